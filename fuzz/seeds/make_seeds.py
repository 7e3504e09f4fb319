#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into seeds/<target>/ (run from fuzz/).

The seeds are valid (or nearly valid) inputs, so the fuzzer starts from the parsers' accepting
paths. DIDs and keys are the harness's fixed key (RFC 8037 A.1) and the node's did:web.
"""
import base64, gzip, json, os, struct, zlib

NOW = 1_800_000_000
NODE = "did:web:node.test"
HARNESS = "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw"
CONSUMER = "did:web:consumer.test"
B64U = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
COMPACT = lambda v: json.dumps(v, separators=(",", ":")).encode()
RFC8037_JWS = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
               "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
QUERY = "PREFIX onz-g: <http://purl.org/ozo/onz-g#>\nSELECT ?x WHERE { ?x a onz-g:Organization }"


def write(target, name, data):
    os.makedirs(f"seeds/{target}", exist_ok=True)
    with open(f"seeds/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def jwt(header, claims, signature=b"\x01" * 64):
    return f"{B64U(COMPACT(header))}.{B64U(COMPACT(claims))}.{B64U(signature)}"


def credential_claims(generation, subject, status=None):
    fields = {"profile": "https://kik-v.example/profiles/zorgkantoren", "profileVersion": "1.3.5",
              "ontology": "http://purl.org/ozo/onz-g", "queryId": "1.1"}
    if generation == 1:
        kind = "ValidQueryCredential"
        cs = dict(fields, query=QUERY, id=subject)
    else:
        kind = "ValidatedQueryCredential"
        cs = {"id": subject, "validatedQuery": dict(fields, sparql=base64.b64encode(QUERY.encode()).decode())}
    jti = f"urn:uuid:00000000-0000-4000-8000-00000000000{generation}"
    vc = {"@context": ["https://www.w3.org/2018/credentials/v1"], "id": jti,
          "type": ["VerifiableCredential", kind], "issuer": HARNESS, "credentialSubject": cs}
    if status:
        vc["credentialStatus"] = status
    return {"iss": HARNESS, "sub": subject, "nbf": NOW - 86400, "iat": NOW - 86400,
            "exp": NOW + 86400, "jti": jti, "vc": vc}


presentation = COMPACT(jwt({"alg": "EdDSA", "typ": "JWT", "kid": f"{CONSUMER}#key-1"},
                           {"iss": CONSUMER, "aud": NODE, "exp": NOW + 300, "jti": "p-1",
                            "vp": {"verifiableCredential": ["eyJ.eyJ.sig"]}}))[1:-1].decode()

# envelope_gen1: the datastation JSON envelope.
payload = {"jti": "m-1", "type": "v1/basic-message/request", "from": CONSUMER, "to": NODE,
           "exp": NOW + 300, "iat": NOW, "thread_id": "t-1", "reply_url": "https://consumer.test/inbox",
           "body": {"message": presentation}}
write("envelope_gen1", "request.json", COMPACT({"protected": {"alg": "none", "typ": "JWM"}, "payload": payload, "signature": ""}))
p2 = dict(payload, to=[CONSUMER, NODE]); del p2["reply_url"]
write("envelope_gen1", "request-to-list.json", json.dumps({"protected": {"alg": "none", "typ": "JWM"}, "payload": p2}, indent=1))

# The times at the ends of i64, whose checks overflowed before the fix in envelope.rs.
write("envelope_gen1", "extreme-times.json", COMPACT({"protected": {"alg": "none", "typ": "JWM"},
      "payload": dict(payload, exp=2**63 - 1, iat=-2**63), "signature": ""}))

# envelope_gen2: header lines, blank line, body.
write("envelope_gen2", "request.txt",
      f"Message-ID: <m-1@consumer.test>\nSubject: validated-query-service\nFrom: {CONSUMER}\nTo: {NODE}\n"
      f"References: t-1\nReply-To: https://consumer.test/inbox\n\n{presentation}\n")
write("envelope_gen2", "minimal.txt",
      f"subject: validated-query-service\nmessage-id: 1\nfrom: {CONSUMER}\nto: {NODE}\nreferences: t\n\neyJ.eyJ.sig")

# jwt: compact JWS as the node receives them.
write("jwt", "rfc8037-a4.jws", RFC8037_JWS)
write("jwt", "credential.jwt", jwt({"alg": "EdDSA", "typ": "JWT", "kid": f"{HARNESS}#z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw"}, credential_claims(2, CONSUMER)))
write("jwt", "presentation.jwt", presentation)
write("jwt", "es256-crit.jwt", jwt({"alg": "ES256", "kid": "#0", "crit": ["b64"], "b64": False}, {"iss": CONSUMER, "exp": 1.8e9}))

# credential: selector byte (even: credential, odd: presentation) + claims the harness signs.
bit = {"id": "https://status.test/lists/bitstring#3", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
       "statusListIndex": "3", "statusListCredential": "https://status.test/lists/bitstring"}
sl21 = {"id": "https://status.test/lists/2021#5", "type": "StatusList2021Entry", "statusPurpose": "revocation",
        "statusListIndex": 5, "statusListCredential": "https://status.test/lists/2021"}
l17 = {"id": "https://status.test/lists/2017", "type": "CredentialStatusList2017"}
write("credential", "gen1", b"\x00" + COMPACT(credential_claims(1, CONSUMER)))
write("credential", "gen2-bitstring", b"\x00" + COMPACT(credential_claims(2, CONSUMER, bit)))
write("credential", "gen2-2021", b"\x00" + COMPACT(credential_claims(2, CONSUMER, sl21)))
write("credential", "gen1-2017", b"\x00" + COMPACT(credential_claims(1, CONSUMER, l17)))
vp = {"iss": HARNESS, "aud": NODE, "nbf": NOW, "iat": NOW, "exp": NOW + 300, "jti": "urn:uuid:p-1",
      "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"],
             "holder": HARNESS, "verifiableCredential": [credential_claims(1, HARNESS), credential_claims(2, HARNESS, bit)]},
      "parameters": {"jaar": 2025, "kwartaal": "Q2"}}
write("credential", "presentation", b"\x01" + COMPACT(vp))

# did_document: documents, and DIDs.
x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
write("did_document", "did-web.json", json.dumps({
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
    "id": CONSUMER,
    "verificationMethod": [
        {"id": f"{CONSUMER}#key-1", "type": "JsonWebKey2020", "controller": CONSUMER,
         "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": x}},
        {"id": "#key-2", "type": "Ed25519VerificationKey2020", "controller": CONSUMER,
         "publicKeyMultibase": HARNESS[len("did:key:"):]}],
    "assertionMethod": [f"{CONSUMER}#key-1", "#key-2",
                        {"id": "#key-3", "type": "JsonWebKey2020", "controller": CONSUMER,
                         "publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}],
    "authentication": ["#key-1"]}, indent=1))
write("did_document", "did-key.txt", HARNESS)
write("did_document", "did-jwk.txt", "did:jwk:" + B64U(COMPACT({"crv": "P-256", "kty": "EC", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})))
write("did_document", "did-web-path.txt", "did:web:consumer.test%3A8443:tenants:zorgkantoor")

# status_list: selector 0 entry, 1 claims, 2 encodedList, 3 JWT.
bits = bytes([0b00010001]) + bytes(127)
encoded = "u" + B64U(gzip.compress(bits, mtime=0))
subject = {"id": "https://status.test/lists/bitstring#list", "type": "BitstringStatusList",
           "statusPurpose": "revocation", "encodedList": encoded}
claims = {"iss": HARNESS, "iat": NOW, "nbf": NOW, "exp": NOW + 86400, "jti": "l#1",
          "vc": {"@context": ["https://www.w3.org/2018/credentials/v1"], "id": "https://status.test/lists/bitstring",
                 "type": ["VerifiableCredential", "BitstringStatusListCredential"], "issuer": HARNESS, "credentialSubject": subject}}
write("status_list", "entry-bitstring", b"\x00" + COMPACT(bit))
write("status_list", "entry-2021", b"\x00" + COMPACT(sl21))
write("status_list", "entry-2017", b"\x00" + COMPACT(l17))
write("status_list", "claims-bitstring", b"\x01" + COMPACT(claims))
c17 = json.loads(json.dumps(claims)); c17["vc"]["credentialSubject"] = {"id": "https://status.test/lists/2017", "type": "CredentialStatusList2017",
      "verifiableCredential": [{"claim": {"id": "urn:uuid:x", "currentStatus": "Revoked", "statusReason": "lost"}}]}
write("status_list", "claims-2017", b"\x01" + COMPACT(c17))
write("status_list", "encoded-2021", b"\x02" + base64.b64encode(gzip.compress(bytes(16), mtime=0)))
write("status_list", "jwt-bitstring", b"\x03" + jwt({"alg": "EdDSA", "typ": "JWT", "kid": HARNESS + "#0"}, claims).encode())

# audit_record: a record file of two entries, and one with a torn tail.
def frame(payload):
    length = struct.pack("<I", len(payload))
    return length + struct.pack("<I", zlib.crc32(length + payload) & 0xFFFFFFFF) + payload
entry0 = COMPACT({"index": 0, "prev": "0" * 64, "time": "2027-01-15T08:00:00Z", "thread_id": "t-1", "activity": "received", "consumer": CONSUMER})
entry1 = COMPACT({"index": 1, "prev": "0" * 64, "time": "2027-01-15T08:00:01Z", "thread_id": "t-1", "activity": "rejected", "outcome": "presentation_invalid"})
write("audit_record", "entries.log", b"KIKVLOG1" + frame(entry0) + frame(entry1))
write("audit_record", "torn.log", b"KIKVLOG1" + frame(entry0) + frame(entry1)[:-3])
write("audit_record", "checkpoints.log", b"KIKVCHK1" + frame(b"node.test/audit\n1\n" + base64.b64encode(bytes(32)) + b"\n\n"))

# audit_log: flag byte + chunks (see audit_log.rs).
e = lambda activity, extra={}: b"ENTRY " + COMPACT(dict({"time": "2027-01-15T08:00:00Z", "thread_id": "t-1", "activity": activity}, **extra))
content = {"media_type": "application/json", "sha256": "0" * 64, "length": 2, "inline": "e30="}
write("audit_log", "three-entries-checkpointed", b"\x01" + b"\n==\n".join([
    e("received", {"consumer": CONSUMER, "content": content}), e("verified", {"profile": {"iri": "https://kik-v.example/p", "version": "1.3.5"},
    "query_id": "1.1", "credentials": [{"credential_id": "urn:uuid:1", "profile": {"iri": "https://kik-v.example/p", "version": "1.3.5"}, "query_id": "1.1"}],
    "parameters": {"jaar": 2025}}), b"CKPT-AUTO", e("executed", {"outcome": "sha256:00"}), b"CKPT-AUTO"]))
write("audit_log", "explicit-key-body", b"\x02" + b"\n==\n".join([e("received"), b"CKPT node.test/audit\n1\n" + base64.b64encode(bytes(32)) + b"\n"]))
write("audit_log", "raw-tail", b"\x05" + b"\n==\n".join([e("rejected", {"outcome": "envelope_malformed"}), b"CKPT-AUTO", b"RAW \x10\x00\x00\x00garbage"]))

# receipt: selector 0 receipt JSON, 1 verifier key, 2 note, 3 body.
root = base64.b64encode(bytes(32)).decode()
write("receipt", "receipt-body", b"\x00" + COMPACT({"index": 0, "leaf_hash": root, "checkpoint": f"node.test/audit\n1\n{root}\n", "inclusion_proof": []}))
write("receipt", "receipt-proof", b"\x00" + COMPACT({"index": 5, "leaf_hash": root, "checkpoint": f"node.test/audit\n7\n{root}\n", "inclusion_proof": [root, root, root]}))
write("receipt", "verifier-key", b"\x01node.test/audit+0123abcd+AdfWmAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea")
write("receipt", "note", ("\x02node.test/audit\n1\n" + root + "\n\n\u2014 node.test/audit AAAAAA" + "A" * 86 + "==\n").encode())
write("receipt", "body", ("\x03node.test/audit\n42\n" + root + "\nextension line\n").encode())
