//! `kikv profiles import`: the six official folders of `queries/afsprakenset/` register as
//! published, checked against counts taken from the files with plain text reading (not the
//! importer's parsers); every refusal has its exact one-line reason; the shipped manifests in
//! `profiles/` are what the import command writes now.

#![allow(clippy::panic, clippy::unwrap_in_result)] // a test fails by panicking

use crate::support::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{kikv, repo_root, run_in, stderr, stdout};
use kikv::profile::{
    import_folder, write_manifest, ImportError, ImportRequest, ImportWarning, ParameterSource,
    ParameterType, Registry, Release,
};

/// The six folders and their query counts, by hand from `queries/afsprakenset/README.md`.
const OFFICIAL: [(&str, usize); 6] = [
    ("igj-aangekondigd-1.0.0", 7),
    ("igj-onaangekondigd-1.2.0", 7),
    ("nza-kostenonderzoek-1.1.1", 26),
    ("nza-wmg-1.1.1", 10),
    ("vws-jvz-1.1.1", 3),
    ("zorgkantoren-1.3.5", 68),
];

fn afsprakenset() -> PathBuf {
    repo_root().join("queries/afsprakenset")
}

fn request(dir: &Path, manifest_dir: &Path) -> ImportRequest {
    ImportRequest {
        dir: dir.to_path_buf(),
        iri: format!(
            "https://profiles.test/{}",
            dir.file_name().unwrap().to_string_lossy()
        ),
        version: "1".into(),
        title: None,
        consumer: "test".into(),
        purpose: String::new(),
        legal_basis: String::new(),
        ontologies: vec!["http://purl.org/ozo/onz-g".into()],
        release: Release::Auto,
        parameter_types: BTreeMap::new(),
        manifest_dir: manifest_dir.to_path_buf(),
    }
}

/// The lines of a query that are not comments.
fn body(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the body names `?name`, or `$(name)` for a placeholder.
fn body_uses(text: &str, name: &str, placeholder: bool) -> bool {
    let body = body(text);
    if placeholder {
        return body.contains(&format!("$({name})"));
    }
    let variable = format!("?{name}");
    body.match_indices(&variable).any(|(i, _)| {
        !body[i + variable.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

/// The names on the `# Parameters:` line of the first lines, by plain text reading, each with
/// whether it is written as a placeholder.
fn header_names(text: &str) -> Vec<(String, bool)> {
    let Some(line) = text
        .lines()
        .take(10)
        .find_map(|l| l.strip_prefix("# Parameters:"))
    else {
        return Vec::new();
    };
    line.split([',', ' '])
        .filter_map(|w| {
            let w = w.trim();
            match w.strip_prefix('?') {
                Some(name) => Some((name.to_owned(), false)),
                None => w
                    .strip_prefix("$(")
                    .and_then(|w| w.strip_suffix(')'))
                    .map(|name| (name.to_owned(), true)),
            }
        })
        .collect()
}

/// The `sh:name "…"` values of a shape, by plain text reading, sorted.
fn shape_names(shape: &str) -> Vec<String> {
    let mut names: Vec<String> = shape
        .split("sh:name")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// What a query's parameters should be: the shape's names when it has a shape, else the
/// header's names that the body uses, then placeholders the header leaves out.
fn expected_parameters(query: &Path) -> (bool, Vec<String>) {
    let text = std::fs::read_to_string(query).unwrap();
    let shape = query.with_extension("ttl");
    if shape.is_file() {
        return (true, shape_names(&std::fs::read_to_string(shape).unwrap()));
    }
    let mut names: Vec<String> = header_names(&text)
        .into_iter()
        .filter(|(name, placeholder)| body_uses(&text, name, *placeholder))
        .map(|(name, _)| name)
        .collect();
    let body = body(&text);
    let mut placeholders: Vec<String> = body
        .split("$(")
        .skip(1)
        .filter_map(|rest| rest.split(')').next().map(str::to_owned))
        .collect();
    placeholders.sort();
    placeholders.dedup();
    for name in placeholders {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    (false, names)
}

#[test]
fn the_six_official_folders_register_with_their_queries_and_parameters() {
    let out = tempfile::tempdir().unwrap();
    let mut total = 0;
    let mut with_shape = 0;
    let mut warnings = Vec::new();
    for (folder, count) in OFFICIAL {
        let dir = afsprakenset().join(folder);
        let rq_files: BTreeSet<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rq"))
            .collect();
        assert_eq!(rq_files.len(), count, "{folder}");
        let imported = import_folder(&request(&dir, out.path())).unwrap();
        write_manifest(&imported, &out.path().join(format!("{folder}.toml"))).unwrap();
        warnings.extend(imported.warnings.iter().map(|w| format!("{folder}: {w}")));
        assert_eq!(imported.profile.queries.len(), count, "{folder}");
        for query in &imported.profile.queries {
            let file = dir.join(format!("{}.rq", query.id));
            assert!(rq_files.contains(&file), "{}", file.display());
            assert_eq!(
                query.text,
                std::fs::read_to_string(&file).unwrap(),
                "registered as published"
            );
            let (shaped, mut expected) = expected_parameters(&file);
            let mut declared: Vec<String> =
                query.parameters.iter().map(|p| p.name.clone()).collect();
            if shaped {
                declared.sort();
                expected.sort();
                with_shape += 1;
            }
            assert_eq!(declared, expected, "{folder}/{}", query.id);
            for parameter in &query.parameters {
                let expected_kind = match (parameter.name.as_str(), shaped) {
                    ("jaar", true) => ParameterType::GYear,
                    ("jaar", false) => ParameterType::Integer,
                    ("zorgkantoor", _) => ParameterType::Iri,
                    ("kwartaal" | "vestigingsnummer", _) => ParameterType::String,
                    _ => ParameterType::Date,
                };
                assert_eq!(
                    parameter.kind, expected_kind,
                    "{folder}/{} {}",
                    query.id, parameter.name
                );
                assert_eq!(parameter.required, parameter.name != "zorgkantoor");
            }
        }
        for query in &imported.queries {
            assert_eq!(
                matches!(query.parameters, ParameterSource::Shape(_)),
                dir.join(format!("{}.ttl", query.id)).is_file()
            );
        }
        total += count;
    }
    assert_eq!(total, 121);
    assert_eq!(with_shape, 7 + 7 + 10 + 3);
    // The six manifests load together, as `kikv serve` loads them.
    let (registry, problems) = Registry::load_dir(out.path()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(registry.profiles().len(), 6);
    // What the publications say that the files do not bear out, and nothing else.
    assert_eq!(
        warnings,
        [
            "nza-kostenonderzoek-1.1.1: 3.2.rq: the header names `$(start_periode_datum)`, which the query does not use; not declared",
            "nza-kostenonderzoek-1.1.1: 3.2.rq: the header names `$(eind_periode_datum)`, which the query does not use; not declared",
            "nza-kostenonderzoek-1.1.1: 11.1.rq: `$(eind_periode)` is not in the header's `# Parameters:`; declared from the placeholder",
            "nza-kostenonderzoek-1.1.1: 11.1.rq: `$(start_periode)` is not in the header's `# Parameters:`; declared from the placeholder",
        ]
    );
}

/// A folder of our own small files (never edited copies of the official ones).
struct Folder(tempfile::TempDir);

impl Folder {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn dir(&self) -> PathBuf {
        self.0.path().join("p")
    }

    fn with(self, name: &str, text: &str) -> Self {
        std::fs::create_dir_all(self.dir()).unwrap();
        std::fs::write(self.dir().join(name), text).unwrap();
        self
    }

    fn import(&self) -> Result<kikv::profile::ImportedProfile, ImportError> {
        import_folder(&request(&self.dir(), self.0.path()))
    }
}

const QUERY: &str = "# Indicator: Test 1\n# Parameters: ?peildatum\n# Ontologie: versie 3.0.0\n\n\
    PREFIX onz-g: <http://purl.org/ozo/onz-g#>\n\
    SELECT (COUNT(?x) AS ?n) WHERE { ?x onz-g:startDatum ?d FILTER(?d <= ?peildatum) }\n";

const SHAPE_HEAD: &str = "@prefix sh: <http://www.w3.org/ns/shacl#> .\n\
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n@prefix ex: <http://example.com/> .\n";

#[test]
fn a_broken_or_empty_shape_falls_back_to_the_header_with_a_warning() {
    let folder = Folder::new()
        .with("1.rq", QUERY)
        .with("1.ttl", "this is not turtle\n")
        .with("2.rq", QUERY)
        .with("2.ttl", SHAPE_HEAD)
        .with("3.rq", QUERY)
        .with(
            "3.ttl",
            &format!(
                "{SHAPE_HEAD}ex:S sh:property [ sh:name \"jaar\" ; sh:datatype xsd:gYear ] .\n"
            ),
        )
        .with("4.rq", QUERY)
        .with(
            "4.ttl",
            &format!("{SHAPE_HEAD}ex:S sh:property [ sh:name \"peildatum\" ] .\n"),
        );
    let imported = folder.import().unwrap();
    let warnings: Vec<String> = imported.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(
        warnings[0].starts_with("1.ttl: not Turtle: "),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].ends_with("; parameters of 1.rq from its header instead"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains('\n'));
    assert_eq!(
        warnings[1],
        "2.ttl: declares no parameter; parameters of 2.rq from its header instead"
    );
    assert_eq!(
        warnings[2],
        "3.ttl: declares `jaar`, which 3.rq does not use; parameters from its header instead"
    );
    assert_eq!(
        warnings[3],
        "4.ttl: parameter `peildatum`: needs sh:datatype or sh:nodeKind sh:IRI; parameters of 4.rq from its header instead"
    );
    assert!(matches!(
        imported.warnings[1],
        ImportWarning::EmptyShape { .. }
    ));
    for query in &imported.profile.queries {
        assert_eq!(query.parameters.len(), 1, "{}", query.id);
        assert_eq!(query.parameters[0].name, "peildatum");
        assert_eq!(query.parameters[0].kind, ParameterType::Date);
        assert_eq!(query.title, "Test 1");
    }
    // The fallback is declared inline, the header's ontology version kept as a comment.
    assert!(imported
        .manifest
        .contains("# parameters: from the query header (no usable shape)\n\n[[query.parameter]]\nname = \"peildatum\"\ntype = \"date\"\n"));
    assert!(imported
        .manifest
        .contains("# ontology (query header): versie 3.0.0\n"));
}

#[test]
fn what_cannot_be_registered_is_refused_with_one_line() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nothing-here");
    let refused = |dir: &Path| {
        import_folder(&request(dir, root.path()))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused(&missing),
        format!("{}: not a folder", missing.display())
    );
    let file = root.path().join("file.rq");
    std::fs::write(&file, QUERY).unwrap();
    assert_eq!(refused(&file), format!("{}: not a folder", file.display()));

    let cases: [(Folder, &str); 5] = [
        (
            Folder::new().with("README.md", "no queries\n"),
            "DIR: no .rq file: not a published profile folder",
        ),
        (
            Folder::new().with("1.rq", "# Parameters: -\nSELECT * WHERE { ?s ?p }\n"),
            "DIR/1.rq: SPARQL syntax error: line 3, column 1: unexpected end of query",
        ),
        (
            Folder::new().with("1.rq", "INSERT DATA { <urn:a> <urn:b> <urn:c> }\n"),
            "DIR/1.rq: update queries are refused: only read-only queries run here",
        ),
        (
            Folder::new().with("1.rq", QUERY).with(
                "1.ttl",
                &format!(
                    "{SHAPE_HEAD}ex:S sh:property [ sh:name \"peildatum\" ; sh:datatype xsd:gYearMonth ] .\n"
                ),
            ),
            "DIR/1.ttl: parameter `peildatum`: unsupported sh:datatype \
             <http://www.w3.org/2001/XMLSchema#gYearMonth>",
        ),
        (
            Folder::new().with(
                "1.rq",
                "# Parameters: ?regio\nSELECT ?x WHERE { ?x <urn:in> ?regio }\n",
            ),
            "DIR/1.rq: parameter `regio` has no shape and no known type \
             (give one: --parameter-type regio=TYPE)",
        ),
    ];
    for (folder, expected) in &cases {
        let dir = folder.dir().canonicalize().unwrap();
        let error = folder.import().unwrap_err().to_string();
        assert_eq!(error.replace(dir.to_str().unwrap(), "DIR"), *expected);
    }
    let unknown_name = &cases[4].0;
    // Given its type, it registers.
    let mut typed = request(&unknown_name.dir(), unknown_name.0.path());
    typed
        .parameter_types
        .insert("regio".into(), ParameterType::Iri);
    let imported = import_folder(&typed).unwrap();
    assert_eq!(
        imported.profile.queries[0].parameters[0].kind,
        ParameterType::Iri
    );

    let mut bad_iri = request(&unknown_name.dir(), root.path());
    bad_iri.iri = "not an iri".into();
    assert_eq!(
        import_folder(&bad_iri).unwrap_err().to_string(),
        "--iri `not an iri`: not an absolute IRI"
    );
}

#[test]
fn a_manifest_never_takes_the_place_of_another_profile() {
    let folder = Folder::new().with("1.rq", QUERY);
    let profiles = folder.0.path();
    let imported = folder.import().unwrap();
    let first = profiles.join("p-1.toml");
    write_manifest(&imported, &first).unwrap();
    // Importing the same version again replaces its own file.
    write_manifest(&imported, &first).unwrap();
    // Under another name beside it: the IRI and version are taken.
    let second = profiles.join("p-copy.toml");
    assert_eq!(
        write_manifest(&imported, &second).unwrap_err().to_string(),
        format!(
            "profile https://profiles.test/p version 1 is already registered by {}",
            first.display()
        )
    );
    assert!(!second.exists());
    // Over a file that holds another profile version.
    let mut other = request(&folder.dir(), profiles);
    other.version = "2".into();
    let other = import_folder(&other).unwrap();
    assert_eq!(
        write_manifest(&other, &first).unwrap_err().to_string(),
        format!(
            "{} exists and is not this profile version; choose another --out",
            first.display()
        )
    );
    let (registry, problems) = Registry::load_dir(profiles).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(registry.profiles().len(), 1);
    assert_eq!(registry.profiles()[0].version, "1");
}

/// Splits a command line as a POSIX shell does for the words `shell` in `manifest.rs` writes:
/// bare words and single-quoted parts (with `'\''` for a quote).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    word.get_or_insert_with(String::new).push(next);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[test]
fn the_shipped_official_manifests_are_what_the_import_command_writes_now() {
    let profiles = repo_root().join("profiles");
    let mut imported = BTreeSet::new();
    for entry in std::fs::read_dir(&profiles).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let Some(command) = text
            .lines()
            .find_map(|l| l.strip_prefix("#   kikv profiles import "))
        else {
            continue;
        };
        let args = shell_words(command);
        let output = kikv()
            .current_dir(&profiles)
            .args(["profiles", "import"])
            .args(&args)
            .args(["--out", "-"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            stdout(&output),
            text,
            "{} is not what its import command writes now",
            file.display()
        );
        imported.insert(args[0].clone());
    }
    let expected: BTreeSet<String> = OFFICIAL
        .iter()
        .map(|(folder, _)| format!("../queries/afsprakenset/{folder}"))
        .collect();
    assert_eq!(
        imported, expected,
        "one shipped manifest per official folder"
    );
}

/// Runs `kikv profiles import` with these space-separated arguments in `dir`.
fn import(dir: &Path, args: &str) -> std::process::Output {
    let mut words = vec!["profiles", "import"];
    words.extend(args.split(' '));
    run_in(dir, &words)
}

#[test]
fn the_command_writes_a_profile_that_the_node_loads() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("published");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("1.rq"), QUERY).unwrap();
    std::fs::write(folder.join("1.ttl"), "not turtle").unwrap();
    std::fs::create_dir(root.path().join("profiles")).unwrap();
    let output = import(root.path(), "published --iri https://profiles.test/p --version 2.0 --consumer Test --release manual --deadline-hours 24");
    assert!(output.status.success(), "{}", stderr(&output));
    let written = root.path().join("profiles/published.toml");
    assert_eq!(
        stdout(&output).trim(),
        format!(
            "registered https://profiles.test/p 2.0: 1 queries (0 with parameters from their shape, \
             1 from their header) in {} (a running node serves it after a restart)",
            Path::new("profiles/published.toml").display()
        )
    );
    assert!(
        stderr(&output).starts_with("kikv: warning: 1.ttl: not Turtle: "),
        "{}",
        stderr(&output)
    );
    let profile = kikv::profile::read_profile(&written).unwrap();
    assert_eq!(profile.title, "published");
    assert_eq!(
        profile.release,
        Release::Manual {
            deadline: Duration::from_secs(24 * 3600)
        }
    );
    assert_eq!(profile.ontologies, ["http://purl.org/ozo/onz-g"]);
    let output = run_in(root.path(), &["profiles", "check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("ok: 1 profile(s), 1 quer(ies)"));

    // A refusal is one line and exit code 2, and writes nothing.
    let output = import(
        root.path(),
        "missing --iri https://profiles.test/q --version 1",
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output), "kikv: error: missing: not a folder");
    assert!(!root.path().join("profiles/missing.toml").exists());
    let output = import(
        root.path(),
        "published --iri https://profiles.test/q --version 1 --parameter-type x=year",
    );
    assert_eq!(
        stderr(&output),
        "kikv: error: --parameter-type x=year: unknown parameter type `year` \
         (one of integer, decimal, string, date, iri, boolean, gyear)"
    );
}
