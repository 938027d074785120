// SYNTH: write the bundled synthetic benchmark (planted JASPAR motifs, known oracle scores).
process GLMPROBE_SYNTH {
    tag "seed ${seed}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    val seed

    output:
    path "synth"              , emit: folder
    path "synth/datasets.csv" , emit: sheet
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions_glmprobe, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // The pipeline version is part of the script text, so -resume reruns the task after an upgrade.
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe synth --outdir synth --seed ${seed} --quiet ${args}
    """

    stub:
    """
    mkdir -p synth
    touch synth/datasets.csv synth/mpra.tsv synth/chip.tsv synth/truth.json
    """
}
