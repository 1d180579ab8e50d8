process FACTORNET_BAG {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(predictions, stageAs: 'models/m*/*') // [ id: ], two or more prediction files over the same bins and TFs

    output:
    tuple val(meta), path("${prefix}.tsv.gz"), emit: predictions
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix   = task.ext.prefix ?: "${meta.id}"
    """
    factornet bag \\
        --out ${prefix}.tsv.gz \\
        ${args} \\
        ${predictions}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    cp \$(ls models/*/* | head -n 1) ${prefix}.tsv.gz
    """
}
