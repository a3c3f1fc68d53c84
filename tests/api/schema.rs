//! `schema.graphql` is generated from the code (`crm-comms export-schema --output schema.graphql`).

#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    let generated = crm_comms::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- export-schema --output schema.graphql`"
    );
}
