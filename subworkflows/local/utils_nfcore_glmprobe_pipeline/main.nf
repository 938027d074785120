/*
 * Pipeline initialisation and completion: params validation (nf-schema), the params summary,
 * the sheets read into channels, and the closing message.
 */

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {

    take:
    version          // boolean: print the version and exit
    validate_params  // boolean: validate params against nextflow_schema.json
    input            // string: datasets sheet (null when params.synth)
    models           // string: models sheet (optional)

    main:
    if (version) {
        log.info "${workflow.manifest.name} ${workflow.manifest.version}"
        System.exit(0)
    }
    if (validate_params) {
        validateParameters()
    }
    log.info paramsSummaryLog(workflow)

    // Datasets sheet: the user's (the synthetic one is generated inside GLMPROBE).
    ch_input = channel.empty()
    if (input) {
        def sheet = file(input, checkIfExists: true)
        def ids = sheetMetas(sheet, "${projectDir}/assets/schema_datasets.json")*.id
        def missing = listParam(params.datasets) - ids
        if (missing) {
            error("param 'datasets' names ${missing.join(', ')}, not in ${sheet}. The sheet has: ${ids.join(', ')}")
        }
        def selected = listParam(params.datasets) ?: ids
        if (params.pretrain && params.pretrain_dataset && !(params.pretrain_dataset in selected)) {
            error("param 'pretrain_dataset' (${params.pretrain_dataset}) is not among the selected datasets: ${selected.join(', ')}")
        }
        ch_input = channel.value(sheet)
    }

    // Models sheet: one [meta(id, family), sheet folder, sheet name] per row.
    ch_models = channel.empty()
    if (models) {
        def sheet = file(models, checkIfExists: true)
        def metas = sheetMetas(sheet, "${projectDir}/assets/schema_models.json")
        def reserved = params.pretrain ? metas*.id.intersect(pretrainedMetas()*.id) : []
        if (reserved) {
            error("${sheet}: model id(s) ${reserved.join(', ')} are reserved for 'pretrain: true'. Rename those rows.")
        }
        ch_models = channel.fromList(metas.collect { meta -> [meta, sheet.parent, sheet.name] })
    }

    emit:
    input  = ch_input   // channel: [ datasets sheet ]
    models = ch_models  // channel: [ meta, sheet folder, sheet name ]
}

workflow PIPELINE_COMPLETION {

    take:
    outdir  // string: the results folder

    main:
    def results = file(outdir).toAbsolutePath()
    workflow.onComplete {
        if (workflow.success) {
            log.info "glmprobe: done. Report: ${results}/report/index.html"
            log.info "glmprobe: compare runs with: mlflow ui --backend-store-uri ${params.tracking_uri ?: "sqlite:///${results}/mlflow.db"}"
        } else {
            log.error "glmprobe: the pipeline failed; fix the error above and relaunch with -resume (finished tasks are reused)."
        }
    }
}

/*
 * Small helpers (channel wiring only; everything else lives in the glmprobe package).
 */

// The meta map of every sheet row, validated against the sheet's schema by nf-schema.
def sheetMetas(sheet, String schema) {
    samplesheetToList(sheet, schema).collect { row ->
        def first = row instanceof List ? row[0] : row
        first instanceof Map ? first : [id: first]
    }
}

// The model `pretrain: true` trains and its random-init control (ids as glmprobe.plan.PRETRAINED_ID*).
def pretrainedMetas() {
    sheetMetas(file("${projectDir}/assets/pretrained_models.csv", checkIfExists: true), "${projectDir}/assets/schema_models.json")
}

// A comma-separated param ("linear,mlp") as a list.
def listParam(value) {
    value ? value.toString().tokenize(',')*.trim().findAll { it } : []
}

// Topic-channel versions [process, tool, version] -> YAML text for pipeline_info.
def softwareVersionsToYAML(ch_versions) {
    ch_versions
        .map { process, tool, version -> [process.tokenize(':').last(), "${tool}: ${version}"] }
        .unique()
        .groupTuple()
        .map { process, tools -> "${process}:\n" + tools.sort().collect { "    ${it}" }.join('\n') }
        .mix(channel.of("Workflow:\n    glmprobe: ${workflow.manifest.version}\n    Nextflow: ${workflow.nextflow.version}"))
}
