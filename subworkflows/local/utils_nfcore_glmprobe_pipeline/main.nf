/*
 * Pipeline initialisation for users: params validated against nextflow_schema.json by the
 * nf-schema plugin (unknown params fail: validation.failUnrecognisedParams), the params
 * summary, both sheets validated against assets/schema_*.json by nf-schema, then the
 * plugin-free PIPELINE_SHEETS. This file is the only one that uses nf-schema; CI has no
 * plugin registry and runs main_ci.nf, whose initialisation (subworkflows/local/utils_glmprobe_ci)
 * validates the same schema through `glmprobe plan` instead. See README, "Nextflow".
 */

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'
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
        validateParameters()
    }
    log.info(paramsSummaryLog(workflow))
    if (datasets_sheet) {
        samplesheetToList(datasets_sheet, "${projectDir}/assets/schema_datasets.json")
    }
    if (models_sheet) {
        samplesheetToList(models_sheet, "${projectDir}/assets/schema_models.json")
    }
    PIPELINE_SHEETS(datasets_sheet, models_sheet, boolParam(pretrain))

    emit:
    input  = PIPELINE_SHEETS.out.input
    models = PIPELINE_SHEETS.out.models
}
