process FACTORNET_BIN {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, tf:, cells:, chroms: ], samplesheet rows (cell_type, kind, name), their files
    tuple path(fasta), path(fasta_index)                              // genome FASTA and its .fai/.gzi (may be [])

    output:
    tuple val(meta), path("${prefix}.labels.tsv.gz"), emit: labels
    tuple val(meta), path("${prefix}.bins.bed.gz")  , emit: bins
    path "versions.yml"                             , emit: versions

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

    factornet bin \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --tf ${meta.tf} \\
        ${chroms} \\
        --out-labels ${prefix}.labels.tsv.gz \\
        --out-bins ${prefix}.bins.bed.gz \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    def header = (['chr', 'start', 'stop'] + (meta.cells ?: [])).join('\\t')
    """
    printf '${header}\\n' | gzip -c > ${prefix}.labels.tsv.gz
    printf '' | gzip -c > ${prefix}.bins.bed.gz

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
