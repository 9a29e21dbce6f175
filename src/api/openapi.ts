/**
 * The seller API's OpenAPI 3.1 document, generated from the contract (contract.ts) with zod's
 * JSON Schema output (draft 2020-12: requests as their input, answers as their output), built
 * once and served at `GET /api/v1/openapi.json` without an API key: it is documentation, and
 * holds no secret. Schemas with an `id` go to `components.schemas`, shared answers to
 * `components.responses`, shared parameters to `components.parameters`.
 */
import { z } from 'zod';
import {
  about,
  operations,
  sharedParameters,
  unknownRoute,
  webhook,
  type OperationDef,
  type Reply,
} from './contract.js';
import type { ApiRoutes } from './apiRoutes.js';

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

const json = 'application/json';
const description = (schema: z.ZodType) => z.globalRegistry.get(schema)?.description;
/** `{ description }` of the object documenting `schema`, when its `.meta()` has one. */
const described = (schema: z.ZodType) => {
  const text = description(schema);
  return text ? { description: text } : {};
};

export function buildOpenApiDocument(): Json {
  const schemas: Record<string, Json> = {};
  const responses: Record<string, Json> = {};
  const parameters: Record<string, Json> = {};

  /** `schema` as JSON Schema; the named shapes in it are added to `components.schemas` and referred to. */
  const jsonSchema = (schema: z.ZodType, io: Io): Json => {
    const {
      $schema: _dialect,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as Json;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
      // zod names a shape it had to extract without an id `__schema<n>`: every named shape has an id.
      if (id.startsWith('__'))
        throw new Error(`a shape without an id is used by reference: ${JSON.stringify(def)}`);
      const shape = refsToComponents(def) as Json;
      if (schemas[id] && JSON.stringify(schemas[id]) !== JSON.stringify(shape))
        throw new Error(`two shapes have the id ${id}`);
      schemas[id] = shape;
    }
    return refsToComponents(rest) as Json;
  };

  /** A schema whose own description is said by the object around it (an answer, a parameter). */
  const bare = (schema: z.ZodType, io: Io) => {
    const { description: _said, ...rest } = jsonSchema(schema, io);
    return rest;
  };

  const responseObject = (r: Reply): Json => {
    const said = description(r.schema);
    if (!said) throw new Error('every answer needs a description');
    const out: Json = { description: said };
    if (r.headers)
      out.headers = Object.fromEntries(
        Object.entries(r.headers.shape).map(([name, schema]) => [
          name,
          { ...described(schema), schema: bare(schema, 'output') },
        ]),
      );
    if (!(r.schema instanceof z.ZodUndefined)) out.content = { [json]: { schema: bare(r.schema, 'output') } };
    if (!r.component) return out;
    if (responses[r.component] && JSON.stringify(responses[r.component]) !== JSON.stringify(out))
      throw new Error(`two answers are named ${r.component}`);
    responses[r.component] = out;
    return { $ref: `#/components/responses/${r.component}` };
  };

  const parameterObjects = (where: 'path' | 'query' | 'header', part: z.ZodObject | undefined): Json[] =>
    Object.entries(part?.shape ?? {}).map(([name, schema]) => {
      const out: Json = {
        name,
        in: where,
        required: where === 'path' || !schema.safeParse(undefined).success,
        ...described(schema),
        schema: bare(schema, 'input'),
      };
      const component = sharedParameters.get(schema)?.component;
      if (!component) return out;
      parameters[component] = out;
      return { $ref: `#/components/parameters/${component}` };
    });

  const operationObject = (operationId: string, op: OperationDef): Json => {
    const { request = {} } = op;
    const params = [
      ...parameterObjects('path', request.params),
      ...parameterObjects('query', request.query),
      ...parameterObjects('header', request.headers),
    ];
    return {
      tags: op.tags,
      operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.security === 'public' ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(request.body
        ? {
            requestBody: {
              required: !request.body.safeParse(undefined).success,
              ...described(request.body),
              content: { [json]: { schema: bare(request.body, 'input') } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(op.responses).map(([status, r]) => [status, responseObject(r)]),
      ),
    };
  };

  const paths: Record<string, Json> = {};
  for (const [operationId, op] of Object.entries(operations) as [string, OperationDef][])
    (paths[op.path] ??= {})[op.method] = operationObject(operationId, op);
  responseObject(unknownRoute);
  for (const shape of about.schemas) jsonSchema(shape, 'output');
  const webhooks = {
    [webhook.name]: {
      post: {
        tags: ['events'],
        summary: webhook.summary,
        description: webhook.description,
        security: [],
        parameters: parameterObjects('header', webhook.headers),
        requestBody: { required: true, content: { [json]: { schema: bare(webhook.body, 'output') } } },
        responses: { '2XX': { description: webhook.accepted } },
      },
    },
  };

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: about.title,
      version: about.version,
      summary: about.summary,
      description: about.description,
    },
    servers: about.servers,
    security: [{ sellerApiKey: [] }],
    tags: Object.entries(about.tags).map(([name, text]) => ({ name, description: text })),
    paths,
    webhooks,
    components: {
      securitySchemes: { sellerApiKey: { type: 'http', scheme: 'bearer', description: about.apiKey } },
      parameters: sorted(parameters),
      responses: sorted(responses),
      schemas: sorted(schemas),
    },
  };
}

/** zod refers to a named shape as `#/$defs/<id>`; in the document it lives in the components. */
function refsToComponents(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(refsToComponents);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key,
      key === '$ref' && typeof v === 'string'
        ? v.replace(/^#\/\$defs\//, '#/components/schemas/')
        : refsToComponents(v),
    ]),
  );
}

const sorted = (record: Record<string, Json>) =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

// Built on first use and kept: it depends on nothing but the contract.
let served: string | undefined;

/** `GET /openapi.json`: public, as the contract says. */
export function openApiRoutes(api: ApiRoutes): void {
  const body = (served ??= JSON.stringify(buildOpenApiDocument()));
  api.serve(operations.getOpenApiDocument, (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type(json).send(body);
  });
}
