/*
 * The pipeline's parameters as the workflows read them: the start-up check (checkParams) and comma-separated
 * lists (csvParam). The parameters' types live in nextflow_schema.json (every parameter of nextflow.config is
 * documented there; tests/nextflow/test_pipeline.py checks it).
 */

/*
 * Stops the run, before any task starts, at the first parameter whose value cannot be what the user meant:
 *
 *   - a parameter that is not a boolean in the schema but is `true`. Nextflow makes `true` of a bare
 *     `--exclude_chroms` and of `--exclude_chroms ''` alike (an empty string cannot be given on its command
 *     line), and `true` would reach factornet as the word (`--exclude-chroms true`) or read as "unset". So `true`
 *     never means "empty" here: leave the flag out for the default, give `false` to unset a value a profile
 *     set, or put "" in a -params-file;
 *   - a boolean parameter that is neither true nor false (`--interpret no` would be truthy, i.e. true).
 *
 * schema : the pipeline's nextflow_schema.json (a Path); its `$defs` groups' `properties` give each
 *          parameter's `type` and `description`
 * Errors : error() with one line naming the parameter, what went wrong and what to give
 */
def checkParams(schema) {
    def properties = new groovy.json.JsonSlurper().parse(schema.toFile())['$defs'].values()
        .collectEntries { group -> group.properties }
    properties.each { name, property ->
        def value = params[name]
        if (property.type != 'boolean' && value == true) {
            def description = property.description.replaceAll(/\.$/, '')
            error("--${name} has no value (Nextflow reads a bare --${name}, and --${name} '', as true): " +
                "give it one, or leave the flag out. --${name}: ${description}")
        }
        if (property.type == 'boolean' && value != null && !(value instanceof Boolean)) {
            error("--${name} takes true or false, not '${value}': give --${name} true or --${name} false")
        }
    }
}

/*
 * A comma-separated parameter as a list of its trimmed, non-empty items; [] when unset (null, or false: the
 * way to unset a value a profile gave). A number (`--predict_chroms 1`) is one item.
 */
def csvParam(value) {
    return value == null || value instanceof Boolean
        ? []
        : value.toString().tokenize(',').collect { v -> v.trim() }.findAll { v -> v }
}
