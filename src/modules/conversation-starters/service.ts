/** Conversation starters: the prompts the chat widget offers a new visitor, ordered by position. */
import type { Clock } from '../../clock'
import { siteStartersLock, starterLock } from '../../db/lock-keys'
import type { StarterRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { BadRequestError, NotFoundError } from '../../errors'
import type { CreateStarterInput, Starter, UpdateStarterInput } from './model'

function present(row: StarterRow): Starter {
  return { id: row.id, prompt: row.prompt, position: row.position, enabled: row.enabled === 1 }
}

function normalizePrompt(prompt: string): string {
  const trimmed = prompt.trim()
  if (!trimmed) throw new BadRequestError('prompt must be 1-200 characters', 'prompt')
  return trimmed
}

/** A site's starters by position (then id); only enabled ones unless `all`. */
export async function listStarters(store: Store, siteId: number, all = false): Promise<Starter[]> {
  return (await store.starters.list(siteId, all)).map(present)
}

/** One starter. */
export async function getStarter(store: Store, siteId: number, id: number): Promise<Starter> {
  const row = await store.starters.get(siteId, id)
  if (!row) throw new NotFoundError(`No conversation starter with id ${id}.`, 'id')
  return present(row)
}

/** Creates a starter; without a position it goes last. */
export async function createStarter(store: Store, clock: Clock, siteId: number, input: CreateStarterInput): Promise<Starter> {
  const prompt = normalizePrompt(input.prompt)
  // Under the site's starters lock, so two concurrent creates without a position do not read the
  // same maximum: each lands after the other, as they would one after the other.
  return store.transaction(async (tx) => {
    await tx.lock(siteStartersLock(siteId))
    const max = await tx.starters.maxPosition(siteId)
    const position = input.position ?? (max === null ? 0 : max + 1)
    return present(await tx.starters.insert(siteId, prompt, position, input.enabled ?? true, clock.now()))
  })
}

/** Changes a starter's prompt, position or enabled flag. */
export async function updateStarter(store: Store, siteId: number, id: number, input: UpdateStarterInput): Promise<Starter> {
  // Read and rewrite in one transaction under the starter's lock, taken before the read, so a
  // concurrent change of another field is not undone.
  return store.transaction(async (tx) => {
    await tx.lock(starterLock(siteId, id))
    const current = await tx.starters.get(siteId, id)
    if (!current) throw new NotFoundError(`No conversation starter with id ${id}.`, 'id')
    const row = await tx.starters.update(
      siteId,
      id,
      input.prompt === undefined ? current.prompt : normalizePrompt(input.prompt),
      input.position ?? current.position,
      input.enabled ?? current.enabled === 1,
    )
    if (!row) throw new NotFoundError(`No conversation starter with id ${id}.`, 'id')
    return present(row)
  })
}

/** Deletes a starter. */
export async function deleteStarter(store: Store, siteId: number, id: number): Promise<{ id: number; deleted: true }> {
  if (!(await store.starters.remove(siteId, id))) throw new NotFoundError(`No conversation starter with id ${id}.`, 'id')
  return { id, deleted: true }
}
