include { optionalFile } from '../functions'

process FACTORNET_CALL {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(predictions)      // [ id: ], predictions TSV.gz (chr start stop <TF>...)
    path(blacklist, stageAs: 'blacklist/*') // BED of regions never called, or []

    output:
    tuple val(meta), path("${prefix}.narrowPeak"), emit: peaks
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args  = task.ext.args ?: '--threshold 0.5'
    prefix    = task.ext.prefix ?: "${meta.id}"
    """
    factornet call \\
        ${predictions} \\
        --out ${prefix}.narrowPeak \\
        ${optionalFile('--blacklist', blacklist)} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.narrowPeak
    """
}
