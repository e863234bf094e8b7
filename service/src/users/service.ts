/** The rules for users: who may do what, and what a conflict or a missing user means. */
import { conflict, notFound } from "../http/errors.ts";
import { requireAdmin, requireOwner, ownerScope, type Principal } from "../http/auth.ts";
import { toPage } from "../http/params.ts";
import type { UserRow } from "../db/schema.ts";
import type { CreateUserInput, UpdateUserInput } from "./model.ts";
import type { UserConflict, UsersRepo } from "./repo.ts";

/** Told, after the commit, of the codes of the links a deleted user took with them (for caches). */
export type CodesChanged = (shortCodes: readonly string[]) => Promise<void>;

const isConflict = (r: unknown): r is UserConflict => typeof r === "object" && r !== null && "conflict" in r;
const conflictError = (c: UserConflict) => conflict(`${c.conflict} is already taken`);

export function createUsersService(repo: UsersRepo, settle: CodesChanged = async () => {}) {
  async function get(principal: Principal, id: number): Promise<UserRow> {
    const row = await repo.findById(id);
    if (!row) throw notFound(`user ${id} not found`);
    requireOwner(principal, row.id);
    return row;
  }

  return {
    get,

    async create(principal: Principal, input: CreateUserInput): Promise<UserRow> {
      requireAdmin(principal);
      const result = await repo.insert(input);
      if (isConflict(result)) throw conflictError(result);
      return result;
    },

    list(principal: Principal, query: { page?: number; per_page?: number }): Promise<UserRow[]> {
      return repo.list(toPage(query), ownerScope(principal));
    },

    async update(principal: Principal, id: number, input: UpdateUserInput): Promise<UserRow> {
      await get(principal, id);
      const result = await repo.update(id, input);
      if (!result) throw notFound(`user ${id} not found`);
      if (isConflict(result)) throw conflictError(result);
      return result;
    },

    async remove(principal: Principal, id: number): Promise<void> {
      await get(principal, id);
      const codes = await repo.delete(id);
      if (!codes) throw notFound(`user ${id} not found`);
      await settle(codes);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
