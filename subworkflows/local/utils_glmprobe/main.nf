/*
 * Plugin-free parts of initialisation and completion, shared by the users' initialisation
 * (nf-schema, utils_nfcore_glmprobe_pipeline) and the CI one (glmprobe, utils_glmprobe_ci):
 * the sheets read into channels with every file a row names staged on its own, and the
 * closing message. Nothing here needs a plugin, so CI runs exactly this code.
 */

workflow PIPELINE_SHEETS {

    take:
    datasets_sheet  // string: datasets sheet (null when params.synth)
    models_sheet    // string: models sheet (optional)
    pretrain        // boolean: the pipeline adds the pre-trained demo gLM (ids reserved)

    main:
    // (No `def` inside `if` blocks here: Nextflow 24.10's parser rejects them in workflow bodies.)
    def sheet = datasets_sheet ? checkedDatasetsSheet(datasets_sheet) : null
    ch_input = sheet ? channel.value(sheet) : channel.empty()
    ch_models = channel.fromList(models_sheet ? checkedModelRows(models_sheet, pretrain) : [])

    emit:
    input  = ch_input   // channel: [ datasets sheet ] (value)
    models = ch_models  // channel: [ meta(id, family), models-sheet row as CSV text, local source or [] ]
}

workflow PIPELINE_COMPLETION {

    take:
    outdir        // string: the results folder
    tracking_uri  // string or null

    main:
    def results = file(outdir)
    workflow.onComplete {
        completionMessage(results, tracking_uri)
    }
}

// The closing lines (a function: inside the onComplete closure `workflow` is not the script's).
def completionMessage(results, tracking_uri) {
    if (workflow.success) {
        log.info("glmprobe: done. Report: ${results}/report/index.html")
        log.info("glmprobe: compare runs with: mlflow ui --backend-store-uri ${tracking_uri ?: "sqlite:///${results}/mlflow.db"}")
    } else {
        log.error("glmprobe: the pipeline failed; fix the error above and relaunch with -resume (finished tasks are reused).")
    }
}

/*
 * Helpers (channel wiring only; everything else lives in the glmprobe package).
 */

// The datasets sheet, read once here so that a row naming a missing file stops the run before any task.
def checkedDatasetsSheet(String path) {
    def sheet = file(path)
    if (!sheet.exists()) {
        error("glmprobe: datasets sheet not found: ${sheet} (param 'input')")
    }
    datasetRows(sheet)
    return sheet
}

// The models-sheet rows; ids reserved for the pre-trained demo model are refused when it is added.
def checkedModelRows(String path, pretrain) {
    def sheet = file(path)
    if (!sheet.exists()) {
        error("glmprobe: models sheet not found: ${sheet} (param 'models')")
    }
    def rows = modelRows(sheet)
    def reserved = pretrain ? rows.collect { r -> r[0].id }.intersect(pretrainedRows(null).collect { r -> r[0].id }) : []
    if (reserved) {
        error("glmprobe: ${sheet}: model id(s) ${reserved.join(', ')} are reserved for 'pretrain: true'; rename those rows")
    }
    return rows
}

// A comma-separated param ("linear,mlp") as a list.
def listParam(value) {
    value ? value.toString().tokenize(',')*.trim().findAll { v -> v } : []
}

// A boolean param given in a config, a params file or on the command line (where the strict
// parser of Nextflow >= 25.10 leaves it a string).
def boolParam(value) {
    value instanceof Boolean ? value : value != null && value.toString().trim().toLowerCase() in ['true', 'yes', '1']
}

// Rows of a CSV/TSV sheet as maps (blank rows and rows whose first cell starts with '#' skipped).
def readSheet(sheet) {
    def header = sheet.readLines().find { line -> line.trim() }
    if (header == null) {
        error("glmprobe: ${sheet}: the sheet is empty")
    }
    def sep = header.count('\t') > header.count(',') ? '\t' : ','
    sheet.splitCsv(header: true, sep: sep, strip: true)
        .findAll { row -> row.values().any { v -> v } && !(row.values().first() ?: '').startsWith('#') }
        .collect { row -> row.findAll { _k, v -> v != null && v != '' } }
}

// A sheet cell naming a file: URLs and absolute paths as they are, others against the sheet's folder.
def sheetFile(sheet, String value) {
    value ==~ /^[A-Za-z][A-Za-z0-9+.-]*:\/\/.*/ || value.startsWith('/') ? file(value) : sheet.parent.resolve(value)
}

// One row as a one-row CSV sheet (header + values), the way glmprobe reads sheets.
def rowCsv(Map row) {
    def quote = { v ->
        def text = v.toString()
        if (text.contains('\n') || text.contains('\r')) {
            error("glmprobe: sheet value with a line break is not supported: ${text.take(40)}")
        }
        '"' + text.replace('"', '""') + '"'
    }
    [row.keySet().collect(quote).join(','), row.values().collect(quote).join(',')].join('\n')
}

// Datasets-sheet rows: [ meta(id), row CSV, data file, labels file or [], genome (+ index) or [] ].
// The files a row names are staged one by one (so in-place edits change the task hash), and
// the row handed to `glmprobe prepare` names them where they are staged.
def datasetRows(sheet) {
    def seen = [] as Set
    readSheet(sheet).collect { row ->
        def id = row.id
        if (!id) {
            error("glmprobe: ${sheet}: a row has no 'id'")
        }
        if (!seen.add(id)) {
            error("glmprobe: ${sheet}: duplicate dataset id '${id}'")
        }
        def staged = [:]
        ['path', 'labels', 'genome'].each { col ->
            if (row[col]) {
                def f = sheetFile(sheet, row[col])
                if (!f.exists()) {
                    error("glmprobe: ${sheet}: dataset '${id}': ${col} file not found: ${f}")
                }
                def files = [f]
                if (col == 'genome') {
                    files += ['.fai', '.gzi'].collect { ext -> file("${f}${ext}") }.findAll { g -> g.exists() }
                }
                staged[col] = files
                row[col] = "inputs/${col}/${f.name}"
            }
        }
        [[id: id], rowCsv(row), staged.path ?: [], staged.labels ?: [], staged.genome ?: []]
    }
}

// Models-sheet rows: [ meta(id, family), row CSV, local source folder or [] ].
// A source that names an existing path (absolute, or relative to the sheet's folder) is staged;
// anything else (a hub id, `onehot`) is passed on as it is.
def modelRows(sheet) {
    readSheet(sheet).collect { row ->
        if (!row.id || !row.source) {
            error("glmprobe: ${sheet}: every row needs 'id' and 'source'")
        }
        def local = []
        if (row.source != 'onehot') {
            def f = sheetFile(sheet, row.source)
            if (f.exists()) {
                local = f
                row.source = "inputs/model/${f.name}"
            }
        }
        [[id: row.id, family: row.family ?: ''], rowCsv(row), local]
    }
}

// The model `pretrain: true` trains and its random-init control (ids as glmprobe.plan.PRETRAINED_ID*),
// with their source set to `folder` (the PRETRAIN output) when given.
def pretrainedRows(folder) {
    readSheet(file("${projectDir}/assets/pretrained_models.csv")).collect { row ->
        if (folder) {
            row.source = "inputs/model/${folder.name}"
        }
        [[id: row.id, family: row.family ?: ''], rowCsv(row), folder ?: []]
    }
}

// The `kind` tag of a baseline's record.json (one-hot | control; glmprobe.heads.baseline ARCHS), ''
// when absent (a stub run's empty record). The record is flat-keyed JSON with `kind` only among its
// tags, so a pattern reads it (the strict parser offers no JSON reader without a plugin).
def recordKind(dir) {
    def m = dir.resolve('record.json').text =~ /"kind"\s*:\s*"([^"]*)"/
    return m.find() ? m.group(1) : ''
}

// The probe glmprobe.plan explains for a gLM (plan._explained_probe), from the probe folders
// (.../L<layer>/<pooling>-<head>) fitted on one store: the deepest layer, the first of mean/cls,
// the first head of `heads` that was fitted there. A one-element list, or [] when none fits.
def explainedProbes(dirs, heads) {
    def parsed = dirs.collect { d ->
        def name = d.name.toString()
        [dir: d, layer: d.parent.name.toString().substring(1) as int,
         pooling: name.substring(0, name.indexOf('-')), head: name.substring(name.indexOf('-') + 1)]
    }
    if (!parsed) {
        return []
    }
    def deepest = parsed.collect { p -> p.layer }.max()
    def order = ['mean', 'cls'].collectMany { pooling -> heads.collect { head -> [pooling, head] } }
    def hit = order.findResult { ph -> parsed.find { p -> p.layer == deepest && p.pooling == ph[0] && p.head == ph[1] } }
    return hit ? [hit.dir] : []
}

// Param `variants` as [set name, variants file, genome] (plan.variant_sets): 'synth' is the
// synthetic benchmark's set (files null: they come from SYNTH); null when no variants are asked for.
def variantSet(values) {
    if (!values.variants) {
        return null
    }
    if (values.variants.toString() == 'synth') {
        if (!boolParam(values.synth)) {
            error("glmprobe: param 'variants' is 'synth' but 'synth' is off; set synth to true, or give a variants file")
        }
        return ['synth_variants', null, null]
    }
    if (!values.variants_genome) {
        error("glmprobe: param 'variants' needs 'variants_genome' (the reference FASTA)")
    }
    def set = file(values.variants.toString())
    def genome = file(values.variants_genome.toString())
    [[set, 'variants'], [genome, 'variants_genome']].each { f, name ->
        if (!f.exists()) {
            error("glmprobe: param '${name}': file not found: ${f}")
        }
    }
    return [set.name.toString().split('\\.')[0], set.toString(), genome.toString()]
}

// The dataset whose trained models score the variants (plan.variant_tasks): param variants_dataset,
// else synth_mpra with synth, else the first selected dataset; it must be one of the selected.
def variantsDataset(sheet, wanted, synth, chosen) {
    def ids = datasetRows(sheet).collect { row -> row[0].id }.findAll { id -> !wanted || id in wanted }
    def on = chosen ?: (synth ? 'synth_mpra' : ids[0])
    if (!(on in ids)) {
        error("glmprobe: param 'variants_dataset' is '${on}', not one of the selected datasets (${ids.join(', ')})")
    }
    return on
}
