// PRETRAIN: train the small demo masked-LM gLM on the TRAIN split of one prepared dataset
// (never valid/test: no leakage) -> pretrain/pretrained/ (Hugging Face folder + record.json)
// and pretrain/models.csv, the models-sheet rows for it and its random-init control.
process GLMPROBE_PRETRAIN {
    tag "${meta.id}"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    tuple val(meta), path(dataset)
    path models_sheet  // assets/pretrained_models.csv: sources relative to pretrain/

    output:
    path "pretrain"                , emit: folder
    path "pretrain/pretrained"     , emit: model
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions_glmprobe, topic: versions
    tuple val("${task.process}"), val('torch'), eval("python3 -c 'import torch; print(torch.__version__)'"), emit: versions_torch, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe pretrain ${dataset} --outdir pretrain/pretrained --quiet ${args}
    cp ${models_sheet} pretrain/models.csv
    """

    stub:
    """
    mkdir -p pretrain/pretrained
    touch pretrain/pretrained/config.json pretrain/pretrained/record.json
    cp ${models_sheet} pretrain/models.csv
    """
}
