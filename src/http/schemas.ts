// Wire schemas every module's routes share: the two error bodies and paging.
import { type Static, Type } from '@sinclair/typebox';

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    // Bounded so an absurd offset is a 422, not a database error (a 500): SQL OFFSET is a 64-bit integer.
    offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
  },
  { additionalProperties: true },
);
export type ListQuery = Static<typeof ListQuery>;

export const ErrorDetail = Type.Object({ detail: Type.String() }, { additionalProperties: false });

export const ValidationErrorBody = Type.Object(
  {
    detail: Type.Array(
      Type.Object({
        type: Type.String(),
        loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
        msg: Type.String(),
        input: Type.Unknown(),
        ctx: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      }),
    ),
  },
  { description: 'Pydantic v2 validation error list (also used for provider rejections)' },
);

/** Error answers every authenticated route can give. */
export const commonErrors = {
  401: ErrorDetail,
  422: Type.Union([ValidationErrorBody, ErrorDetail]),
  429: { ...ErrorDetail, description: 'The credential used up its requests for the window; see Retry-After' },
};
