process FACTORNET_PREPARE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=0.1.0"
    container "quay.io/biocontainers/factornet:0.1.0--pyh7511447_0"

    input:
    tuple val(meta), path(files, stageAs: 'inputs/f*/*') // [ id:, cell:, track:, kind: 'bam'|'fragments', assay: ], the alignments of one cell type × track
    tuple path(fasta), path(fasta_index)                 // genome FASTA and its .fai/.gzi (may be [])

    output:
    tuple val(meta), path("${prefix}.bw")        , emit: bigwig
    tuple val(meta), path("${prefix}.bw.qc.json"), emit: qc
    path "versions.yml"                          , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def staged = files instanceof List ? files : [files]
    if (meta.kind == 'fragments' && staged.size() != 1) {
        error("${meta.id}: one fragments file per cell type and track, got ${staged.size()}")
    }
    def inputs = meta.kind == 'fragments' ? "--fragments ${staged[0]}" : staged.collect { f -> "--bam ${f}" }.join(' ')
    def assay  = meta.kind == 'bam' ? "--assay ${meta.assay ?: 'dnase'}" : ''
    // BAM indexes are not staged: prepare indexes an unindexed BAM into a temporary file itself
    """
    factornet prepare --quiet \\
        ${inputs} \\
        --genome ${fasta} \\
        ${assay} \\
        -o ${prefix}.bw \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: \$(factornet --version | sed 's/^factornet //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.bw
    printf '{"stub": true}\\n' > ${prefix}.bw.qc.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        factornet: stub
    END_VERSIONS
    """
}
