process FACTORNET_BAG {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), path(predictions, stageAs: 'models/m*/*') // [ id: ], two or more prediction files over the same bins and TFs

    output:
    tuple val(meta), path("${prefix}.tsv.gz"), emit: predictions
    path "versions.yml"                      , emit: versions

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

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    cp \$(ls models/*/* | head -n 1) ${prefix}.tsv.gz

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
