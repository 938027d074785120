// PRETRAIN: train the small demo masked-LM gLM on the TRAIN split of one prepared dataset
// (never valid/test: no leakage) -> pretrain/pretrained/ (Hugging Face folder + record.json).
// Its models-sheet rows (it and its random-init control) are assets/pretrained_models.csv.
process GLMPROBE_PRETRAIN {
    tag "${meta.id}"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    tuple val(meta), path(dataset)

    output:
    path "pretrain/pretrained", emit: model
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe pretrain ${dataset} --outdir pretrain/pretrained --quiet ${args}
    """

    stub:
    """
    mkdir -p pretrain/pretrained
    touch pretrain/pretrained/config.json pretrain/pretrained/record.json
    """
}
