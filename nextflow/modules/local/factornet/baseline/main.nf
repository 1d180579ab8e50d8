process FACTORNET_BASELINE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, tf:, cell:, method:, chroms: (null = all), train_cells: (gbm) ], samplesheet rows and files
    tuple path(fasta), path(fasta_index)                              // genome FASTA and its .fai/.gzi (may be [])

    output:
    tuple val(meta), path("${prefix}.tsv.gz"), emit: predictions
    path "versions.yml"                      , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def staged = files instanceof List ? files : [files]
    def sheet  = ['cell_type\tkind\tname\tpath'] + [rows, staged].transpose().collect { r, f -> "${r.cell_type}\t${r.kind}\t${r.name}\t${f}" }
    def chroms = meta.chroms ? "--chroms ${meta.chroms.join(',')}" : ''
    def train  = meta.method == 'gbm' ? "--train-cells ${meta.train_cells.join(',')}" : ''
    """
    printf '%s\\n' ${sheet.collect { l -> "'${l}'" }.join(' ')} > samplesheet.tsv

    factornet baseline \\
        --method ${meta.method} \\
        --tf ${meta.tf} \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --cell ${meta.cell} \\
        ${chroms} \\
        ${train} \\
        --out ${prefix}.tsv.gz \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'chr\\tstart\\tstop\\t${meta.tf}\\n' | gzip -c > ${prefix}.tsv.gz

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
