process FACTORNET_IMPUTE {
    tag "${meta.id}"
    label 'process_medium'
    label 'process_gpu'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), path(models, stageAs: 'models/m*/*'), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, cell:, chroms: (null = all) ], models (.keras), the cell's samplesheet rows and files
    tuple path(fasta), path(fasta_index)                                                                    // genome FASTA and its .fai/.gzi (may be [])

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
    """
    printf '%s\\n' ${sheet.collect { l -> "'${l}'" }.join(' ')} > samplesheet.tsv

    factornet impute \\
        --models ${models} \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --cell ${meta.cell} \\
        ${chroms} \\
        --out ${prefix}.tsv.gz \\
        --quiet \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    def header = (['chr', 'start', 'stop'] + (meta.columns ?: ['TF'])).join('\\t')
    """
    printf '${header}\\n' | gzip -c > ${prefix}.tsv.gz

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
