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
 *     set, or put "" in a -params-file. (A value that starts with a dash is a flag to Nextflow: `--x '-m'` is a
 *     bare --x and a --m; `--x='-m'` is the value);
 *   - a boolean parameter that is neither true nor false (`--interpret no` would be truthy, i.e. true);
 *   - a parameter the schema does not list (unknownParamLine): Nextflow keeps any `--name value` in params, so
 *     `--exclude-chroms chr1` (dash) or `--epoch 3` (typo) would otherwise be ignored and the run go on with the
 *     defaults. Every params key is checked, whatever set it (command line, -params-file, a config's params):
 *     nextflow.config and the profiles set only schema parameters (tests/nextflow/test_pipeline.py checks it).
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
    def unknown = params.keySet().findAll { name -> !properties.containsKey(name) }.sort()
    if (unknown) {
        error(unknownParamLine(unknown[0], properties.keySet(), workflow.commandLine))
    }
}

/*
 * The line refusing a parameter that is not in the schema, naming the closest known one.
 *
 * Nextflow stores `--exclude-chroms` as `excludeChroms` (the dash spelling is not kept in params), so a
 * camelCase key whose dash spelling is on the command line is named as the user typed it.
 *
 * name        : the params key (String)
 * known       : the schema's parameter names (snake_case Strings)
 * commandLine : workflow.commandLine (String, or null when unknown)
 * Returns     : "--<name> is not a parameter of this pipeline: did you mean --<known>?" when a known name is
 *               the same words spelt otherwise (dashes, camelCase) or within a few edits (closestParam); else the
 *               line says where the parameters are listed
 */
def unknownParamLine(String name, Collection known, commandLine) {
    def dashed = name.replaceAll(/([A-Z])/) { _all, c -> "-${c.toLowerCase()}" }
    def onCommandLine = commandLine?.tokenize()?.any { t -> t == "--${dashed}" || t.startsWith("--${dashed}=") }
    def typed = dashed != name && onCommandLine ? dashed : name
    def closest = closestParam(name, known)
    return closest
        ? "--${typed} is not a parameter of this pipeline: did you mean --${closest}?"
        : "--${typed} is not a parameter of this pipeline (command line, -params-file or a config's params): " +
            "leave it out; the parameters are listed in nextflow/README.md and nextflow/nextflow_schema.json"
}

/*
 * The known parameter the user most likely meant by `name`, or null: the one spelt the same once dashes and
 * camelCase are made snake_case (exclude-chroms, excludeChroms → exclude_chroms), else the one fewest edits
 * away (Levenshtein distance) when that is at most a third of the name's length (at least 1): epoch → epochs.
 * Ties go to the alphabetically first name.
 */
def closestParam(String name, Collection known) {
    def snake = name.replaceAll(/([a-z0-9])([A-Z])/) { _all, a, b -> "${a}_${b}" }.replace('-', '_').toLowerCase()
    if (snake in known) {
        return snake
    }
    def best = known.toSorted().min { k -> editDistance(snake, k) }
    return best != null && editDistance(snake, best) <= Math.max(1, snake.length().intdiv(3)) ? best : null
}

/*
 * Levenshtein distance between two Strings: the fewest single-character insertions, deletions and
 * substitutions that turn `a` into `b` (an int >= 0).
 */
def editDistance(String a, String b) {
    def previous = (0..b.length()).toList()
    a.eachWithIndex { ca, i ->
        def current = [i + 1]
        b.eachWithIndex { cb, j ->
            current << [previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)].min()
        }
        previous = current
    }
    return previous[b.length()]
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
