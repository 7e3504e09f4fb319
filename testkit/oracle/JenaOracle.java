// Apache Jena ARQ (Debian's 4.5 jars) as the reference engine: it answers the official queries
// over the same triples the node's queries see, for node/tests/oracle/jena_differential.rs (full
// answers) and node/benches/official.rs (times, row counts).
//
// Usage: java JenaOracle JOBS.json OUT.jsonl
//    or: java JenaOracle --serve DATA.nt TIMEOUT_MS
//
// JOBS.json: {"data": "file.nt", "timeout_ms": 60000,
//             "jobs": [{"key": "...", "query": "file.rq",
//                       "placeholders": {"name": "<N-Triples term>"},
//                       "bindings": {"name": "<N-Triples term>"}}]}
// The data are read once into an in-memory graph; every job then runs in this one JVM and
// writes one JSON line to OUT.jsonl: {"key", "syntax", "columns", "rows", "micros"} or
// {"key", "error", "micros"}. A row is a list with, per column, null (unbound) or
// {"kind": "iri"|"bnode"|"literal", "lexical", "datatype", "lang"}.
//
// --serve: the data read as above, then one line on stdout, {"loaded": "jena: ..."}; then one
// job per line on stdin (a job object as in JOBS.json), answered by one line on stdout as
// above but with "count" (the number of rows, every column of every row read) in place of
// "columns" and "rows", until stdin ends. The benchmark times Jena so, in turns with the node
// run by run: this machine's speed drifts over minutes.
//
// "micros" is the time from the query text (read before) to the last row.
//
// Parameters: `$(name)` placeholders are replaced in the text by the term's SPARQL syntax (the
// reference may substitute text); `?name` parameters are replaced by Jena's syntactic
// substitution (QueryTransformOps), which reaches every scope including sub-selects, unlike
// initial bindings.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.jena.atlas.json.JSON;
import org.apache.jena.atlas.json.JsonArray;
import org.apache.jena.atlas.json.JsonNull;
import org.apache.jena.atlas.json.JsonObject;
import org.apache.jena.atlas.json.JsonValue;
import org.apache.jena.graph.Node;
import org.apache.jena.query.Query;
import org.apache.jena.query.QueryExecution;
import org.apache.jena.query.QueryFactory;
import org.apache.jena.query.QuerySolution;
import org.apache.jena.query.ResultSet;
import org.apache.jena.query.Syntax;
import org.apache.jena.rdf.model.Model;
import org.apache.jena.rdf.model.ModelFactory;
import org.apache.jena.rdf.model.RDFNode;
import org.apache.jena.riot.Lang;
import org.apache.jena.riot.RDFDataMgr;
import org.apache.jena.sparql.core.Var;
import org.apache.jena.sparql.syntax.syntaxtransform.QueryTransformOps;
import org.apache.jena.riot.out.NodeFmtLib;
import org.apache.jena.sparql.util.NodeFactoryExtra;
import org.apache.jena.sys.JenaSystem;

public class JenaOracle {
    public static void main(String[] args) throws IOException {
        JenaSystem.init();
        if (args.length == 3 && args[0].equals("--serve")) {
            serve(args[1], Long.parseLong(args[2]));
            return;
        }
        JsonObject spec = JSON.read(args[0]);
        Model model = load(spec.get("data").getAsString().value());
        long timeout = spec.hasKey("timeout_ms")
            ? spec.get("timeout_ms").getAsNumber().value().longValue() : 60000;
        try (BufferedWriter out = Files.newBufferedWriter(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            for (JsonValue value : spec.get("jobs").getAsArray()) {
                out.write(JSON.toStringFlat(run(model, value.getAsObject(), timeout, true)));
                out.newLine();
                out.flush();
            }
        }
    }

    // What the last `load` read and how long it took.
    static String loaded = "";

    // Reads the N-Triples file `data` into an in-memory model and says how long it took on
    // stderr (and in `loaded`).
    static Model load(String data) {
        long started = System.nanoTime();
        Model model = ModelFactory.createDefaultModel();
        RDFDataMgr.read(model, data, Lang.NTRIPLES);
        loaded = String.format("jena: %d triples loaded in %d ms", model.size(),
            (System.nanoTime() - started) / 1_000_000);
        System.err.println(loaded);
        return model;
    }

    // The --serve mode (see the header).
    static void serve(String data, long timeout) throws IOException {
        Model model = load(data);
        JsonObject ready = new JsonObject();
        ready.put("loaded", loaded);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        out.write(JSON.toStringFlat(ready));
        out.newLine();
        out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            out.write(JSON.toStringFlat(run(model, JSON.parse(line), timeout, false)));
            out.newLine();
            out.flush();
        }
    }

    // Answers `job`; with `keepRows` the answer's columns and rows, else their count.
    static JsonObject run(Model model, JsonObject job, long timeout, boolean keepRows) {
        JsonObject result = new JsonObject();
        result.put("key", job.get("key").getAsString().value());
        String text;
        try {
            text = new String(Files.readAllBytes(Paths.get(job.get("query").getAsString().value())),
                StandardCharsets.UTF_8);
        } catch (IOException error) {
            result.put("error", "IOException: " + firstLine(error.getMessage()));
            result.put("micros", 0);
            return result;
        }
        long started = System.nanoTime();
        try {
            JsonObject placeholders = job.get("placeholders").getAsObject();
            for (String name : placeholders.keys()) {
                Node node = NodeFactoryExtra.parseNode(placeholders.get(name).getAsString().value());
                text = text.replace("$(" + name + ")", NodeFmtLib.strNT(node));
            }
            Query query;
            try {
                query = QueryFactory.create(text, Syntax.syntaxSPARQL_11);
                result.put("syntax", "SPARQL 1.1");
            } catch (RuntimeException strict) {
                // Jena's own syntax accepts what SPARQL 1.1 refuses, e.g. a SELECT expression
                // that uses an alias of the same SELECT in an aggregate query.
                query = QueryFactory.create(text, Syntax.syntaxARQ);
                result.put("syntax", "ARQ (SPARQL 1.1 refuses: " + firstLine(strict.getMessage()) + ")");
            }
            JsonObject bindings = job.get("bindings").getAsObject();
            if (!bindings.keys().isEmpty()) {
                Map<Var, Node> substitution = new HashMap<>();
                for (String name : bindings.keys()) {
                    substitution.put(Var.alloc(name),
                        NodeFactoryExtra.parseNode(bindings.get(name).getAsString().value()));
                }
                query = QueryTransformOps.transform(query, substitution);
            }
            try (QueryExecution execution = QueryExecution.model(model).query(query)
                    .timeout(timeout, TimeUnit.MILLISECONDS).build()) {
                ResultSet results = execution.execSelect();
                List<String> columns = results.getResultVars();
                JsonArray rows = new JsonArray();
                long count = 0;
                while (results.hasNext()) {
                    QuerySolution solution = results.next();
                    JsonArray row = new JsonArray();
                    for (String column : columns) {
                        // Read in both modes, so that a lazy value is computed either way.
                        RDFNode node = solution.get(column);
                        if (keepRows) {
                            row.add(node == null ? JsonNull.instance : term(node.asNode()));
                        }
                    }
                    count++;
                    if (keepRows) {
                        rows.add(row);
                    }
                }
                if (keepRows) {
                    JsonArray header = new JsonArray();
                    columns.forEach(header::add);
                    result.put("columns", header);
                    result.put("rows", rows);
                } else {
                    result.put("count", count);
                }
            }
        } catch (Throwable error) {
            result.put("error", error.getClass().getSimpleName() + ": " + firstLine(String.valueOf(error.getMessage())));
        }
        result.put("micros", (System.nanoTime() - started) / 1000);
        return result;
    }

    static JsonObject term(Node node) {
        JsonObject term = new JsonObject();
        if (node.isURI()) {
            term.put("kind", "iri");
            term.put("lexical", node.getURI());
        } else if (node.isBlank()) {
            term.put("kind", "bnode");
            term.put("lexical", node.getBlankNodeLabel());
        } else if (node.isLiteral()) {
            term.put("kind", "literal");
            term.put("lexical", node.getLiteralLexicalForm());
            term.put("datatype", node.getLiteralDatatypeURI());
            term.put("lang", node.getLiteralLanguage());
        } else {
            term.put("kind", "other");
            term.put("lexical", node.toString());
        }
        return term;
    }

    static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int end = message.indexOf('\n');
        return end < 0 ? message : message.substring(0, end);
    }
}
