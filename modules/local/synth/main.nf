// SYNTH: write the bundled synthetic benchmark (planted JASPAR motifs, known oracle scores).
process GLMPROBE_SYNTH {
    tag "seed ${seed}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    val seed

    output:
    path "synth", emit: folder  // datasets.csv, mpra.tsv, chip.tsv, truth.json, record.json ...
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    // The pipeline version is part of the script text, so -resume reruns the task after an upgrade.
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe synth --outdir synth --seed ${seed} --quiet ${args}
    """

    stub:
    // A real two-row sheet, so -stub-run instantiates every downstream process.
    """
    mkdir -p synth
    printf 'id,format,path,task,split,target_cols\\nsynth_mpra,table,mpra.tsv,regression,column,cellA;cellB;cellC\\nsynth_chip,table,chip.tsv,binary,column,CTCF\\n' > synth/datasets.csv
    touch synth/mpra.tsv synth/chip.tsv synth/truth.json synth/record.json
    """
}
