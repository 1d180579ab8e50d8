process FACTORNET_SIMULATE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    val(meta) // [ id: dataset name, seed: int ]

    output:
    tuple val(meta), path("${prefix}")                  , emit: dataset
    tuple val(meta), path("${prefix}/samplesheet.tsv")  , emit: samplesheet
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    factornet simulate \\
        --out ${prefix} \\
        --seed ${meta.seed ?: 0} \\
        ${args}
    """

    stub:
    // the layout of a real dataset, two cell types, one TF, empty data
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    printf '>chr1\\nACGTACGTAC\\n>chr2\\nACGTACGTAC\\n>chr3\\nACGTACGTAC\\n' > ${prefix}/genome.fa
    printf 'chr1\\t10\\t6\\t10\\t11\\nchr2\\t10\\t22\\t10\\t11\\nchr3\\t10\\t38\\t10\\t11\\n' > ${prefix}/genome.fa.fai
    printf 'cell_type\\tkind\\tname\\tpath\\n' > ${prefix}/samplesheet.tsv
    for cell in CellA CellB; do
        touch ${prefix}/\$cell.DNASE.bw
        printf 'chr1\\t0\\t10\\t.\\t0\\t.\\t0\\t0\\t0\\t5\\n' | gzip -c > ${prefix}/\$cell.CTCF.conservative.narrowPeak.gz
        printf 'chr1\\t0\\t10\\t.\\t0\\t.\\t0\\t0\\t0\\t5\\n' | gzip -c > ${prefix}/\$cell.CTCF.relaxed.narrowPeak.gz
        printf '%s\\ttrack\\tDNASE\\t%s.DNASE.bw\\n' \$cell \$cell >> ${prefix}/samplesheet.tsv
        printf '%s\\tconservative\\tCTCF\\t%s.CTCF.conservative.narrowPeak.gz\\n' \$cell \$cell >> ${prefix}/samplesheet.tsv
        printf '%s\\trelaxed\\tCTCF\\t%s.CTCF.relaxed.narrowPeak.gz\\n' \$cell \$cell >> ${prefix}/samplesheet.tsv
    done
    """
}
