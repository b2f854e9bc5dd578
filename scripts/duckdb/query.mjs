// Runs one SQL query in an in-memory DuckDB and prints its rows as JSON; numbers that
// DuckDB returns as BigInt are printed as numbers. Usage: node query.mjs "SQL".
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error('usage: node query.mjs SQL');
  process.exit(2);
}
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
const reader = await connection.runAndReadAll(sql);
const rows = reader.getRowObjectsJson();
console.log(JSON.stringify(rows));
