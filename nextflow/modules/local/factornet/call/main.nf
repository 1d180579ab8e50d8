process FACTORNET_CALL {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), path(predictions) // [ id: ], predictions TSV.gz (chr start stop <TF>...)
    path blacklist                     // BED of regions never called, or []

    output:
    tuple val(meta), path("${prefix}.narrowPeak"), emit: peaks
    path "versions.yml"                          , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args  = task.ext.args ?: '--threshold 0.5'
    prefix    = task.ext.prefix ?: "${meta.id}"
    def black = blacklist ? "--blacklist ${blacklist}" : ''
    """
    factornet call \\
        ${predictions} \\
        --out ${prefix}.narrowPeak \\
        ${black} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.narrowPeak

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
