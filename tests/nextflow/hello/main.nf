#!/usr/bin/env nextflow
/*
 * Smallest pipeline that exercises what the FactorNet modules rely on, with the local executor:
 * a CONTRACT samplesheet (TSV, paths relative to its folder) parsed with splitCsv,
 * `tuple val(meta), path(...)` inputs, named emits, task.ext.args, a stub block, publishDir,
 * and a versions channel. Used by tests/nextflow/test_nextflow_runner.py.
 */
nextflow.enable.dsl = 2

params.input  = null
params.outdir = 'results'

process SUMMARISE {
    tag "${meta.id}"
    publishDir "${params.outdir}/summaries", mode: 'copy', saveAs: { f -> f == 'versions.yml' ? null : f }

    input:
    tuple val(meta), path(table)

    output:
    tuple val(meta), path("${meta.id}.summary.tsv"), emit: summary
    path "versions.yml"                            , emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    python3 -c "rows = [l.split() for l in open('${table}') if l.strip()]; print('${meta.cell_type}', '${meta.kind}', '${meta.name}', len(rows), sum(float(r[1]) for r in rows), '${args}' or '-', sep='\\t')" \\
        > ${meta.id}.summary.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        python: \$(python3 -c 'import platform; print(platform.python_version())')
    END_VERSIONS
    """

    stub:
    """
    printf '%s\\tstub\\n' '${meta.id}' > ${meta.id}.summary.tsv
    printf '"%s":\\n    python: stub\\n' '${task.process}' > versions.yml
    """
}

workflow {
    if (!params.input) { error "--input SAMPLESHEET.tsv is required" }
    def sheet = file(params.input, checkIfExists: true)

    Channel.fromPath(sheet)
        .splitCsv(header: true, sep: '\t')
        .filter { row -> row.kind == 'track' }
        .map { row ->
            def meta = [id: "${row.cell_type}_${row.name}", cell_type: row.cell_type, kind: row.kind, name: row.name]
            [meta, sheet.parent.resolve(row.path)]
        }
        .set { ch_tracks }

    SUMMARISE(ch_tracks)

    SUMMARISE.out.summary
        .map { meta, f -> f.text }
        .collectFile(name: 'all_summaries.tsv', storeDir: params.outdir, sort: true)
    SUMMARISE.out.versions.first().collectFile(name: 'versions.yml', storeDir: params.outdir)
}
