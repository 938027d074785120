// REPORT: report/results.csv (tidy), report/index.html (self-contained) and report/figures/.
process GLMPROBE_REPORT {
    tag "report"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    // Top-level output folders of every task (datasets/, embeddings/, probes/ ...), one per task.
    path(trees, stageAs: 'part*/*')

    output:
    path "report", emit: report  // results.csv, index.html, figures/
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    # Merge the per-task trees into one results/ tree of symlinks (the layout of docs/output.md).
    mkdir -p results
    cp -rsL "\$PWD"/part*/* results/
    export MPLCONFIGDIR=\$PWD/.matplotlib
    glmprobe report results --outdir report ${args}
    """

    stub:
    """
    mkdir -p report/figures
    touch report/results.csv report/index.html
    """
}
