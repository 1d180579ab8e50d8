include { optionalFile } from '../functions'

process FACTORNET_PREPARE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(files, stageAs: 'inputs/f*/*') // [ id:, cell:, track:, kind: 'bam'|'fragments', assay: ], the alignments of one cell type × track
    tuple path(fasta), path(fasta_index)                 // genome FASTA and its .fai/.gzi (may be [])
    path(blacklist, stageAs: 'blacklist/*')              // BED of regions whose reads are dropped, or []

    output:
    tuple val(meta), path("${prefix}.bw")        , emit: bigwig
    tuple val(meta), path("${prefix}.bw.qc.json"), emit: qc
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

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
        ${optionalFile('--blacklist', blacklist)} \\
        -o ${prefix}.bw \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.bw
    printf '{"stub": true}\\n' > ${prefix}.bw.qc.json
    """
}
