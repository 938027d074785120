// BASELINE: one one-hot architecture trained from scratch -> baselines/<dataset>/<arch>/.
process GLMPROBE_BASELINE {
    tag "${meta.id} ${arch}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "glmprobe${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    tuple val(meta), path(dataset), val(arch)

    output:
    tuple val(meta), path("baselines/${meta.id}/${arch}"), emit: baseline
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    // --outdir is the results root: the baseline step writes baselines/<dataset>/<arch>/ under it.
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe baseline \\
        --dataset ${dataset} \\
        --arch ${arch} \\
        --outdir . \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p baselines/${meta.id}/${arch}
    touch baselines/${meta.id}/${arch}/record.json baselines/${meta.id}/${arch}/predictions.csv
    """
}
