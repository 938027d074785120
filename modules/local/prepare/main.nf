// PREPARE: one datasets-sheet row -> the canonical datasets/<id>/dataset.h5 (+ record.json).
process GLMPROBE_PREPARE {
    tag "${meta.id}"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    // The sheet's whole folder is staged as `sheet/`, so relative paths in the sheet keep working.
    tuple val(meta), path(sheet_dir, stageAs: 'sheet'), val(sheet_name)

    output:
    tuple val(meta), path("datasets/${meta.id}/dataset.h5"), emit: dataset
    path "datasets/${meta.id}"                             , emit: folder
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions_glmprobe, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe prepare sheet/${sheet_name} --id ${meta.id} --outdir datasets ${args}
    """

    stub:
    """
    mkdir -p datasets/${meta.id}
    touch datasets/${meta.id}/dataset.h5 datasets/${meta.id}/record.json
    """
}
