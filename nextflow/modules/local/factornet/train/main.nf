include { stagedSamplesheet; optionalFile } from '../functions'

process FACTORNET_TRAIN {
    tag "${meta.id}"
    label 'process_medium'
    label 'process_gpu'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, tf: (null = multi-task), seed:, train_cells: ], samplesheet rows, their files
    tuple path(fasta), path(fasta_index)                            // genome FASTA and its .fai/.gzi (may be [])
    path(blacklist, stageAs: 'blacklist/*')                         // BED of regions never sampled, or []
    path(gtf, stageAs: 'annotations/gtf/*')                         // for -g: GENCODE-style GTF, or []
    path(cpg, stageAs: 'annotations/cpg/*')                         // for -g: CpG-island BED (with the GTF), or []
    path(annotation_beds, stageAs: 'annotations/beds/*')            // for -g: a folder of feature BEDs instead, or []
    path(motif_file, stageAs: 'motifs/*')                           // MEME file for -mo/--motif, or [] (JASPAR)

    output:
    tuple val(meta), path("${prefix}.keras")       , emit: model
    tuple val(meta), path("${prefix}.history.json"), emit: history
    tuple val(meta), path("${prefix}.history.png") , emit: history_png, optional: true
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def tf     = meta.tf ? "--tf ${meta.tf}" : ''
    def cells  = (meta.train_cells ?: []).collect { c -> "--cell ${c}" }.join(' ')
    def seed   = meta.seed != null ? "--seed ${meta.seed}" : ''
    """
    ${stagedSamplesheet(rows, files)}

    factornet train \\
        --samplesheet samplesheet.tsv \\
        --genome ${fasta} \\
        --out ${prefix}.keras \\
        ${tf} \\
        ${cells} \\
        ${seed} \\
        ${optionalFile('--blacklist', blacklist)} \\
        ${optionalFile('--gtf', gtf)} \\
        ${optionalFile('--cpg', cpg)} \\
        ${optionalFile('--annotation-beds', annotation_beds)} \\
        ${optionalFile('--motif-file', motif_file)} \\
        --quiet \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    ${stagedSamplesheet(rows, files)}
    touch ${prefix}.keras ${prefix}.history.png
    echo '{}' > ${prefix}.history.json
    """
}
