// Runs graphql-http's auditServer (the GraphQL-over-HTTP conformance audit) against a URL
// and prints the results as JSON: [{id, name, status, reason}]. tests/test_http.py runs it
// from a directory where `npm install graphql-http graphql` put node_modules.
import { auditServer } from "graphql-http";

const results = await auditServer({ url: process.argv[2] });
console.log(
  JSON.stringify(
    results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason ?? null })),
  ),
);
