/**
 * A small model of how AWS decides one request against one resource policy (an SNS topic policy,
 * a KMS key policy), evaluated on the synthesised template. It is just enough to prove the path
 * an alarm notification takes, with fixed values standing in for the pseudo parameters. Anything
 * it does not model (NotAction, NotPrincipal, an unknown condition operator, an unresolvable
 * intrinsic) throws instead of quietly matching.
 */

export const PARTITION = 'aws';
export const REGION = 'eu-west-1';
export const ACCOUNT = '111122223333';

type TemplateJson = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action?: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** One request as the service sends it: who, what, on which ARN, with which request context. */
export interface PolicyRequest {
  servicePrincipal: string;
  action: string;
  resource: string;
  context: Record<string, string>;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

/** ARN a resource of the template would get, from its logical id. */
export function arnOf(template: TemplateJson, logicalId: string): string {
  const r = template.Resources[logicalId];
  if (!r) throw new Error(`no resource ${logicalId}`);
  switch (r.Type) {
    case 'AWS::SNS::Topic':
      return `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${String(r.Properties?.TopicName ?? logicalId)}`;
    case 'AWS::KMS::Key':
      return `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${logicalId}`;
    case 'AWS::CloudWatch::Alarm':
      return `arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:${String(r.Properties?.AlarmName ?? logicalId)}`;
    default:
      throw new Error(`arnOf: ${r.Type} is not modelled`);
  }
}

/** Resolves Ref / Fn::GetAtt(Arn) / Fn::Join with the fixed pseudo parameters. */
export function resolve(template: TemplateJson, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') {
      const pseudo: Record<string, string> = {
        'AWS::Partition': PARTITION,
        'AWS::Region': REGION,
        'AWS::AccountId': ACCOUNT,
        'AWS::URLSuffix': 'amazonaws.com',
      };
      if (pseudo[o.Ref]) return pseudo[o.Ref];
      const r = template.Resources[o.Ref];
      // Ref of a topic is its ARN; of a key, its id.
      if (r?.Type === 'AWS::SNS::Topic') return arnOf(template, o.Ref);
      if (r?.Type === 'AWS::KMS::Key') return o.Ref;
    }
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn') return arnOf(template, String(getAtt[0]));
    const join = o['Fn::Join'];
    if (Array.isArray(join)) {
      const [sep, parts] = join as [string, unknown[]];
      return parts.map((p) => resolve(template, p)).join(sep);
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM wildcard match: `*` any run of characters, `?` one character. */
function glob(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, caseInsensitive ? 'i' : '').test(value);
}

/** ArnLike: the six colon-separated parts are matched one by one, so `*` never spans a colon boundary. */
function arnLike(pattern: string, arn: string): boolean {
  const split = (s: string) => {
    const parts = s.split(':');
    return parts.length < 6 ? null : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const a = split(arn);
  return !!p && !!a && p.every((part, i) => glob(part, a[i]));
}

function principalMatches(principal: unknown, service: string): boolean {
  if (principal === '*') return true;
  if (!principal || typeof principal !== 'object') return false;
  const p = principal as Record<string, unknown>;
  if (list(p.AWS).includes('*')) return true;
  return list(p.Service).includes(service);
}

function conditionsHold(template: TemplateJson, condition: PolicyStatement['Condition'], context: Record<string, string>): boolean {
  const lookup = (key: string): string | undefined =>
    Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
  return Object.entries(condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => {
      const actual = lookup(key);
      // A key absent from the request fails every operator modelled here (no ...IfExists).
      if (actual === undefined) return false;
      const values = list(expected).map((v) => resolve(template, v));
      switch (operator) {
        case 'StringEquals':
        case 'ArnEquals':
          return values.includes(actual);
        case 'StringLike':
          return values.some((v) => glob(v, actual));
        case 'ArnLike':
          return values.some((v) => arnLike(v, actual));
        case 'Bool':
          return values.some((v) => v.toLowerCase() === actual.toLowerCase());
        default:
          throw new Error(`condition operator ${operator} is not modelled`);
      }
    }),
  );
}

/** The statements of a policy document that apply to the request. */
function matchingStatements(template: TemplateJson, statements: PolicyStatement[], request: PolicyRequest): PolicyStatement[] {
  return statements.filter((st) => {
    for (const unsupported of ['NotAction', 'NotPrincipal', 'NotResource']) {
      if (unsupported in st) throw new Error(`${unsupported} is not modelled`);
    }
    return (
      principalMatches(st.Principal, request.servicePrincipal) &&
      list(st.Action).some((a) => glob(String(a), request.action, true)) &&
      list(st.Resource).some((r) => glob(resolve(template, r), request.resource)) &&
      conditionsHold(template, st.Condition, request.context)
    );
  });
}

/** Explicit deny wins, then any allow, else the implicit deny. */
export function decide(template: TemplateJson, statements: PolicyStatement[], request: PolicyRequest): Decision {
  const matching = matchingStatements(template, statements, request);
  if (matching.some((st) => st.Effect === 'Deny')) return 'explicit-deny';
  return matching.some((st) => st.Effect === 'Allow') ? 'allow' : 'implicit-deny';
}
