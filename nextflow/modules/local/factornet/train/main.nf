process FACTORNET_TRAIN {
    tag "${meta.id}"
    label 'process_medium'
    label 'process_gpu'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, tf: (null = multi-task), seed:, train_cells: ], samplesheet rows, their files
    tuple path(fasta), path(fasta_index)                              // genome FASTA and its .fai/.gzi (may be [])

    output:
    tuple val(meta), path("${prefix}.keras")       , emit: model
    tuple val(meta), path("${prefix}.history.json"), emit: history
    tuple val(meta), path("${prefix}.history.png") , emit: history_png, optional: true
    path "versions.yml"                            , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def staged = files instanceof List ? files : [files]
    def sheet  = ['cell_type\tkind\tname\tpath'] + [rows, staged].transpose().collect { r, f -> "${r.cell_type}\t${r.kind}\t${r.name}\t${f}" }
    def tf     = meta.tf ? "--tf ${meta.tf}" : ''
    def cells  = (meta.train_cells ?: []).collect { c -> "--cell ${c}" }.join(' ')
    def seed   = meta.seed != null ? "--seed ${meta.seed}" : ''
    """
    printf '%s\\n' ${sheet.collect { l -> "'${l}'" }.join(' ')} > samplesheet.tsv

    factornet train \\
        --samplesheet samplesheet.tsv \\
        --genome ${fasta} \\
        --out ${prefix}.keras \\
        ${tf} \\
        ${cells} \\
        ${seed} \\
        --quiet \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.keras ${prefix}.history.png
    echo '{}' > ${prefix}.history.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
