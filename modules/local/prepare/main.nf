// PREPARE: one datasets-sheet row -> the canonical datasets/<id>/dataset.h5 (+ record.json).
process GLMPROBE_PREPARE {
    tag "${meta.id}"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    // The row (as a one-row sheet) names its files where they are staged: inputs/<column>/<name>.
    tuple val(meta), val(row), path(data, stageAs: 'inputs/path/*'), path(labels, stageAs: 'inputs/labels/*'), path(genome, stageAs: 'inputs/genome/*')

    output:
    tuple val(meta), path("datasets/${meta.id}"), emit: folder  // dataset.h5, record.json
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    cat > sheet.csv <<'GLMPROBE_SHEET'
${row}
GLMPROBE_SHEET
    glmprobe prepare sheet.csv --id ${meta.id} --outdir datasets ${args}
    """

    stub:
    """
    mkdir -p datasets/${meta.id}
    touch datasets/${meta.id}/dataset.h5 datasets/${meta.id}/record.json
    """
}
