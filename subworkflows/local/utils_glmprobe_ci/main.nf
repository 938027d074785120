/*
 * Pipeline initialisation for CI and other hosts without the nf-schema plugin (main_ci.nf).
 * It validates the same nextflow_schema.json and sheets through the glmprobe package:
 * the effective params are written to <workDir>/glmprobe-init/params.json and
 * `glmprobe plan --fail-unknown` checks them (types, enums, unknown params, missing files)
 * and expands the plan, exactly as `glmprobe run` does. `glmprobe` must be on the PATH of
 * the Nextflow process. Everything after this is the code users run.
 */

include { PIPELINE_SHEETS; boolParam } from '../utils_glmprobe'

workflow PIPELINE_INITIALISATION {

    take:
    version          // boolean: print the version and exit
    validate_params  // boolean: validate params against nextflow_schema.json
    datasets_sheet   // string: datasets sheet (null when params.synth)
    models_sheet     // string: models sheet (optional)
    pretrain         // boolean: add the pre-trained demo gLM

    main:
    if (boolParam(version)) {
        log.info("${workflow.manifest.name} ${workflow.manifest.version}")
        System.exit(0)
    }
    if (boolParam(validate_params)) {
        glmprobeValidate()
    }
    PIPELINE_SHEETS(datasets_sheet, models_sheet, boolParam(pretrain))

    emit:
    input  = PIPELINE_SHEETS.out.input
    models = PIPELINE_SHEETS.out.models
}

// Params as Nextflow sees them (launch-relative paths made absolute), checked by `glmprobe plan`.
def glmprobeValidate() {
    def pathKeys = ['input', 'models', 'outdir']
    def values = params.findAll { _k, v -> v != null }.collectEntries { k, v ->
        [k, k in pathKeys ? file(v.toString()).toString() : v]
    }
    def dir = file("${workflow.workDir}/glmprobe-init")
    dir.mkdirs()
    def json = dir.resolve('params.json')
    json.text = '{\n' + values.collect { k, v -> '  ' + jsonValue(k.toString()) + ': ' + jsonValue(v) }.join(',\n') + '\n}\n'
    def proc = ['glmprobe', 'plan', json.toString(), '--fail-unknown', '--format', 'csv'].execute()
    def out = new StringBuilder()
    def err = new StringBuilder()
    proc.waitForProcessOutput(out, err)
    if (proc.exitValue() != 0) {
        def lines = err.toString().readLines().findAll { line -> line.trim() }
        error(lines ? lines.last() : "glmprobe plan failed (exit ${proc.exitValue()})")
    }
    log.info("glmprobe: params valid (nextflow_schema.json, checked by glmprobe plan): ${out.toString().readLines().size() - 1} tasks planned")
}

// A param value as JSON: booleans and numbers as they are, everything else as a string.
def jsonValue(value) {
    if (value instanceof Boolean || value instanceof Number) {
        return value.toString()
    }
    def text = value.toString().replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n').replace('\t', '\\t')
    return '"' + text + '"'
}
