// The reference side of node/tests/oracle/jena_differential.rs: Apache Jena ARQ (Debian's 4.5 jars)
// answers the official queries over the same triples the node's queries see.
//
// Usage: java JenaOracle JOBS.json OUT.jsonl
//
// JOBS.json: {"data": "file.nt", "timeout_ms": 60000, "repeat_under_ms": 0, "samples": 1,
//             "jobs": [{"key": "...", "query": "file.rq",
//                       "placeholders": {"name": "<N-Triples term>"},
//                       "bindings": {"name": "<N-Triples term>"}}]}
// The data are read once into an in-memory graph; every job then runs in this one JVM and
// writes one JSON line to OUT.jsonl: {"key", "syntax", "columns", "rows", "micros"} or
// {"key", "error", "micros"}. A job that answers in under `repeat_under_ms` runs again until it
// has `samples` times, and "micros" is their median ("first_micros" the first): one sample of a
// run of a millisecond or two is mostly noise (the benchmark does the same on the node).
// A row is a list with, per column, null (unbound) or
// {"kind": "iri"|"bnode"|"literal", "lexical", "datatype", "lang"}.
//
// Parameters: `$(name)` placeholders are replaced in the text by the term's SPARQL syntax (the
// reference may substitute text); `?name` parameters are replaced by Jena's syntactic
// substitution (QueryTransformOps), which reaches every scope including sub-selects, unlike
// initial bindings.

import java.io.BufferedWriter;
import java.io.IOException;
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
        JsonObject spec = JSON.read(args[0]);
        long started = System.nanoTime();
        Model model = ModelFactory.createDefaultModel();
        RDFDataMgr.read(model, spec.get("data").getAsString().value(), Lang.NTRIPLES);
        long timeout = spec.hasKey("timeout_ms")
            ? spec.get("timeout_ms").getAsNumber().value().longValue() : 60000;
        System.err.printf("jena: %d triples loaded in %d ms%n", model.size(),
            (System.nanoTime() - started) / 1_000_000);
        long repeatUnder = spec.hasKey("repeat_under_ms")
            ? spec.get("repeat_under_ms").getAsNumber().value().longValue() : 0;
        int samples = spec.hasKey("samples")
            ? spec.get("samples").getAsNumber().value().intValue() : 1;
        try (BufferedWriter out = Files.newBufferedWriter(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            for (JsonValue value : spec.get("jobs").getAsArray()) {
                JsonObject result = sampled(model, value.getAsObject(), timeout, repeatUnder, samples);
                out.write(JSON.toStringFlat(result));
                out.newLine();
                out.flush();
            }
        }
    }

    // Runs `job` once, and `samples` times in all when the first answer came in under
    // `repeatUnder` milliseconds without an error; "micros" is then the median.
    static JsonObject sampled(Model model, JsonObject job, long timeout, long repeatUnder, int samples) {
        JsonObject first = run(model, job, timeout);
        long micros = first.get("micros").getAsNumber().value().longValue();
        if (first.hasKey("error") || micros >= repeatUnder * 1000 || samples <= 1) {
            return first;
        }
        long[] times = new long[samples];
        times[0] = micros;
        for (int i = 1; i < samples; i++) {
            times[i] = run(model, job, timeout).get("micros").getAsNumber().value().longValue();
        }
        java.util.Arrays.sort(times);
        first.put("first_micros", micros);
        first.put("micros", times[samples / 2]);
        return first;
    }

    static JsonObject run(Model model, JsonObject job, long timeout) {
        JsonObject result = new JsonObject();
        result.put("key", job.get("key").getAsString().value());
        long started = System.nanoTime();
        try {
            String text = new String(Files.readAllBytes(Paths.get(job.get("query").getAsString().value())),
                StandardCharsets.UTF_8);
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
                JsonArray header = new JsonArray();
                columns.forEach(header::add);
                JsonArray rows = new JsonArray();
                while (results.hasNext()) {
                    QuerySolution solution = results.next();
                    JsonArray row = new JsonArray();
                    for (String column : columns) {
                        RDFNode node = solution.get(column);
                        if (node == null) {
                            row.add(JsonNull.instance);
                        } else {
                            row.add(term(node.asNode()));
                        }
                    }
                    rows.add(row);
                }
                result.put("columns", header);
                result.put("rows", rows);
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
