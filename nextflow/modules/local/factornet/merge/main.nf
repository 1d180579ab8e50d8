process FACTORNET_MERGE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(shards, stageAs: 'shards/s*/*') // [ id:, chrom_order: (list or null) ], prediction shards (TSV.gz)

    output:
    tuple val(meta), path("${prefix}.tsv.gz"), emit: predictions
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args  = task.ext.args ?: ''
    prefix    = task.ext.prefix ?: "${meta.id}"
    def order = meta.chrom_order ? "--chrom-order ${meta.chrom_order.join(',')}" : ''
    """
    factornet merge \\
        --out ${prefix}.tsv.gz \\
        ${order} \\
        ${args} \\
        ${shards}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    cp \$(ls shards/*/* | head -n 1) ${prefix}.tsv.gz
    """
}
