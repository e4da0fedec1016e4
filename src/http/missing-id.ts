/** Item operations sent to a collection URL (`PATCH ?resource=tags` without `&id=`). */
import { BadRequestError } from '../errors'

/** Throws the 400 that tells the caller to name the item. */
export function missingId(resource: string): never {
  throw new BadRequestError(`id is required: use /v1/${resource}/{id} or /v1/api.ashx?resource=${resource}&id={id}.`, 'id')
}

/** Route options that keep these guard routes out of the OpenAPI document. */
export const hidden = { detail: { hide: true } } as const
