/**
 * The OpenAPI 3.1 description served at `/api/schema/`. {@link ROUTES} is also what the app
 * uses to answer 405 with an `Allow` header, and what the tests walk, so the document cannot
 * drift from the routes that exist.
 *
 * @module
 */
import { MAX_LIST_OFFSET } from '../core/prices.js'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './routes/prices.js'

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'

interface Operation {
  summary: string
  /** Statuses this operation answers with, besides 500. */
  statuses: number[]
  auth: boolean
  body?: string
  response?: Record<string, unknown>
  query?: { name: string; required?: boolean; schema: Record<string, unknown> }[]
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const list = (name: string) => ({ type: 'array', items: ref(name) })

/** Every route, by the path clients use (trailing slash as in the seed; optional). */
export const ROUTES: Record<string, Partial<Record<Method, Operation>>> = {
  '/api/token/': {
    post: {
      summary: 'Sign in: get an access and a refresh token',
      statuses: [200, 400, 401, 413, 415, 429],
      auth: false,
      body: 'Credentials',
      response: ref('TokenPair'),
    },
  },
  '/api/token/refresh/': {
    post: {
      summary: 'Exchange a refresh token for a new pair; the old refresh token is retired',
      statuses: [200, 400, 401, 413, 415],
      auth: false,
      body: 'RefreshRequest',
      response: ref('TokenPair'),
    },
  },
  '/api/token/verify/': {
    post: {
      summary: 'Check a token of either type',
      statuses: [200, 400, 401, 413, 415],
      auth: false,
      body: 'VerifyRequest',
      response: { type: 'object' },
    },
  },
  '/api/token/blacklist/': {
    post: {
      summary: 'Sign out: end the session of a refresh token',
      statuses: [200, 400, 401, 413, 415],
      auth: false,
      body: 'RefreshRequest',
      response: { type: 'object' },
    },
  },
  '/api/organizations/': {
    get: {
      summary: 'Organizations the caller belongs to (all for administrators)',
      statuses: [200, 400, 401],
      auth: true,
      query: [
        { name: 'search', schema: { type: 'string' } },
        {
          name: 'ordering',
          schema: { type: 'string', enum: ['name', '-name', 'created_at', '-created_at'] },
        },
      ],
      response: list('Organization'),
    },
    post: {
      summary: 'Create an organization; the caller becomes its owner',
      statuses: [201, 400, 401, 409, 413, 415],
      auth: true,
      body: 'OrganizationInput',
      response: ref('Organization'),
    },
  },
  '/api/organizations/{id}/': {
    get: {
      summary: 'One organization',
      statuses: [200, 401, 404],
      auth: true,
      response: ref('Organization'),
    },
    put: {
      summary: 'Rename (owner)',
      statuses: [200, 400, 401, 403, 404, 409, 413, 415],
      auth: true,
      body: 'OrganizationInput',
      response: ref('Organization'),
    },
    patch: {
      summary: 'Rename (owner); fields left out keep their value',
      statuses: [200, 400, 401, 403, 404, 409, 413, 415],
      auth: true,
      body: 'OrganizationPatch',
      response: ref('Organization'),
    },
    delete: {
      summary: 'Delete with all prices and memberships (owner)',
      statuses: [204, 401, 403, 404],
      auth: true,
    },
  },
  '/api/organizations/{id}/members/': {
    get: {
      summary: 'Members, owners first',
      statuses: [200, 401, 404],
      auth: true,
      response: list('Member'),
    },
    post: {
      summary: 'Add a member (owner)',
      statuses: [201, 400, 401, 403, 404, 409, 413, 415],
      auth: true,
      body: 'MemberInput',
      response: ref('Member'),
    },
  },
  '/api/organizations/{id}/members/{username}/': {
    patch: {
      summary: "Change a member's role (owner); the last owner stays",
      statuses: [200, 400, 401, 403, 404, 409, 413, 415],
      auth: true,
      body: 'RoleInput',
      response: ref('Member'),
    },
    delete: {
      summary: 'Remove a member (owner); the last owner stays',
      statuses: [204, 401, 403, 404, 409],
      auth: true,
    },
  },
  '/api/crypto-prices/': {
    get: {
      summary: 'Prices of the organizations the caller sees, newest first, one page',
      statuses: [200, 400, 401, 404],
      auth: true,
      query: [
        { name: 'org_id', schema: { type: 'string', format: 'uuid' } },
        { name: 'symbol', schema: { type: 'string' } },
        { name: 'since', schema: { type: 'string', format: 'date-time' } },
        { name: 'until', schema: { type: 'string', format: 'date-time' } },
        {
          name: 'limit',
          schema: {
            type: 'integer',
            minimum: 1,
            maximum: MAX_PAGE_SIZE,
            default: DEFAULT_PAGE_SIZE,
          },
        },
        {
          name: 'offset',
          schema: { type: 'integer', minimum: 0, maximum: MAX_LIST_OFFSET, default: 0 },
        },
      ],
      response: ref('PricePage'),
    },
    post: {
      summary: 'Record a price (member)',
      statuses: [201, 400, 401, 403, 404, 413, 415],
      auth: true,
      body: 'PriceInput',
      response: ref('Price'),
    },
  },
  '/api/crypto-prices/latest/': {
    get: {
      summary: 'The newest price of each symbol of one organization',
      statuses: [200, 400, 401, 404],
      auth: true,
      query: [{ name: 'org_id', required: true, schema: { type: 'string', format: 'uuid' } }],
      response: list('Price'),
    },
  },
  '/api/crypto-prices/{id}/': {
    get: { summary: 'One price', statuses: [200, 401, 404], auth: true, response: ref('Price') },
    put: {
      summary: 'Replace a price (member)',
      statuses: [200, 400, 401, 403, 404, 413, 415],
      auth: true,
      body: 'PriceInput',
      response: ref('Price'),
    },
    patch: {
      summary: 'Change fields of a price (member)',
      statuses: [200, 400, 401, 403, 404, 413, 415],
      auth: true,
      body: 'PricePatch',
      response: ref('Price'),
    },
    delete: { summary: 'Delete a price (member)', statuses: [204, 401, 403, 404], auth: true },
  },
  '/api/schema/': {
    get: { summary: 'This document', statuses: [200], auth: false, response: { type: 'object' } },
  },
  '/healthz': {
    get: {
      summary: 'The process is up',
      statuses: [200],
      auth: false,
      response: { type: 'object' },
    },
  },
  '/readyz': {
    get: {
      summary: 'The database answers (and, with --daemon, ticks are recent)',
      statuses: [200, 503],
      auth: false,
      response: { type: 'object' },
    },
  },
  '/metrics': {
    get: { summary: 'Prometheus metrics (text)', statuses: [200], auth: false },
  },
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'Invalid input: `{ "<field>": ["message"] }` or `{ "detail", "code" }`',
  401: 'Missing, invalid or expired token (`WWW-Authenticate: Bearer`)',
  403: 'Visible but not allowed for your role',
  404: 'Not found, or not visible to you',
  409: 'Conflicts with existing data',
  413: 'Body larger than 1 MiB',
  415: 'Body is not JSON',
  429: 'Too many failed sign-ins (`Retry-After`)',
  503: 'Not ready',
}

const decimal = {
  // The server takes JSON numbers too (see src/server/body.ts): say so, or generated clients
  // refuse to send them.
  type: ['string', 'number'],
  pattern: '^\\d{1,10}(\\.\\d{1,10})?$',
  description: 'Exact decimal; a JSON number of at most 15 significant digits is accepted too',
}

const SCHEMAS: Record<string, unknown> = {
  Credentials: {
    type: 'object',
    required: ['username', 'password'],
    properties: { username: { type: 'string' }, password: { type: 'string' } },
  },
  RefreshRequest: {
    type: 'object',
    required: ['refresh'],
    properties: { refresh: { type: 'string' } },
  },
  VerifyRequest: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } },
  TokenPair: {
    type: 'object',
    required: ['access', 'refresh'],
    properties: { access: { type: 'string' }, refresh: { type: 'string' } },
  },
  Organization: {
    type: 'object',
    required: ['id', 'name', 'created_at'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      created_at: { type: 'string', format: 'date-time' },
    },
  },
  OrganizationInput: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
  },
  OrganizationPatch: { type: 'object', properties: { name: { type: 'string' } } },
  Member: {
    type: 'object',
    required: ['username', 'role', 'joined_at', 'is_active'],
    properties: {
      username: { type: 'string' },
      role: ref('Role'),
      joined_at: { type: 'string', format: 'date-time' },
      is_active: { type: 'boolean' },
    },
  },
  Role: { type: 'string', enum: ['owner', 'member', 'viewer'] },
  MemberInput: {
    type: 'object',
    required: ['username'],
    properties: { username: { type: 'string' }, role: ref('Role') },
  },
  RoleInput: { type: 'object', required: ['role'], properties: { role: ref('Role') } },
  Price: {
    type: 'object',
    required: ['id', 'org_id', 'symbol', 'price', 'currency', 'timestamp', 'source'],
    properties: {
      id: { type: 'integer' },
      org_id: { type: 'string', format: 'uuid' },
      symbol: { type: 'string' },
      price: { type: 'string', pattern: '^\\d+\\.\\d{10}$' },
      currency: { type: 'string' },
      timestamp: { type: 'string', format: 'date-time' },
      source: { type: 'string', enum: ['coingecko', 'manual'] },
    },
  },
  PriceInput: {
    type: 'object',
    required: ['org_id', 'symbol', 'price'],
    properties: {
      org_id: { type: 'string', format: 'uuid' },
      symbol: { type: 'string' },
      price: decimal,
      currency: { type: 'string', default: 'usd' },
    },
  },
  PricePatch: {
    type: 'object',
    properties: {
      org_id: { type: 'string', format: 'uuid' },
      symbol: { type: 'string' },
      price: decimal,
      currency: { type: 'string' },
    },
  },
  PricePage: {
    type: 'object',
    required: ['count', 'next', 'previous', 'results'],
    properties: {
      count: { type: 'integer' },
      next: { type: ['string', 'null'] },
      previous: { type: ['string', 'null'] },
      results: list('Price'),
    },
  },
  Error: {
    type: 'object',
    properties: { detail: { type: 'string' }, code: { type: 'string' } },
  },
}

let cached: Record<string, unknown> | undefined

/** The document, built once per process. */
export function openApiDocument(): Record<string, unknown> {
  cached ??= build()
  return cached
}

function build(): Record<string, unknown> {
  const paths: Record<string, unknown> = {}
  for (const [path, operations] of Object.entries(ROUTES)) {
    const item: Record<string, unknown> = {}
    const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema:
        name === 'id' && path.startsWith('/api/crypto-prices')
          ? { type: 'integer' }
          : { type: 'string' },
    }))
    if (pathParams.length > 0) item['parameters'] = pathParams
    for (const [method, op] of Object.entries(operations)) {
      const responses: Record<string, unknown> = {}
      for (const status of op.statuses) {
        const content =
          status < 300
            ? op.response && { 'application/json': { schema: op.response } }
            : { 'application/json': { schema: ref('Error') } }
        responses[String(status)] = {
          description: STATUS_TEXT[status],
          ...(content && { content }),
        }
      }
      item[method] = {
        summary: op.summary,
        ...(op.auth ? {} : { security: [] }),
        ...(op.query && { parameters: op.query.map((q) => ({ in: 'query', ...q })) }),
        ...(op.body && {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref(op.body) } },
          },
        }),
        responses,
      }
    }
    paths[path] = item
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'cryptorg',
      version: '1',
      description:
        'Organizations and their cryptocurrency prices. Paths work with and without the ' +
        'trailing slash. Every error answer is JSON.',
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: SCHEMAS,
    },
  }
}
