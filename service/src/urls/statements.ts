/**
 * The SQL of each write on links, one statement each (so one round trip, one implicit
 * transaction). bench/lib/pgbench.ts runs these very strings to measure what PostgreSQL alone
 * can do, so the repo and the ceiling it is compared with cannot drift apart.
 * Ids are cast to bigint: that fits an integer column and a bigint one alike.
 */

/**
 * $1 code, $2 user id, $3 original url, $4 title, $5 expires_at (an ISO instant, or null),
 * $6 max_clicks (or null), $7 forward_query (null: false). Always one row: `code_retired`, and
 * the new link's columns, all null when nothing was written (the code is live, or retired:
 * `code_retired` tells which). A missing user fails on the foreign key (23503) and writes nothing.
 * A generated code that is live or retired is drawn again; an alias is a 409 (urls/repo.ts).
 */
export const INSERT_URL_SQL = `
with candidate as (
  select $1::varchar as code, exists (select 1 from retired_codes where code = $1::varchar) as retired
), link as (
  insert into urls (user_id, short_code, original_url, title, expires_at, max_clicks, forward_query)
  select $2::bigint, code, $3::text, $4::text, $5::timestamptz at time zone 'UTC', $6::bigint, coalesce($7::boolean, false)
  from candidate where not retired
  on conflict (short_code) do nothing
  returning *
), created as (
  insert into events (url_id, user_id, event_type, details)
  select id, user_id, 'created', jsonb_build_object('short_code', short_code, 'original_url', original_url) from link
)
select c.retired as code_retired, l.* from candidate c left join link l on true`;

/**
 * $1 code. Run after INSERT_URL_SQL wrote an alias, in its transaction: a fresh snapshot sees a
 * delete that retired the code while the insert waited for it (the insert's own snapshot is
 * older). One row when the code is retired: roll back.
 */
export const CODE_RETIRED_SQL = `select 1 from retired_codes where code = $1::varchar`;

/**
 * $1 id; then for title, is_active, original_url, expires_at, max_clicks, forward_query a "was
 * sent" flag and the value ($2..$13; a sent null clears expires_at or max_clicks).
 * The self-join locks the row and reads its values before the change, so the `updated` event
 * names exactly the fields whose value changed, even under concurrent updates. The names are in
 * the order the API has always listed them, the link options after.
 */
export const UPDATE_URL_SQL = `
with link as (
  update urls u set
    title = case when $2::boolean then $3::text else u.title end,
    is_active = case when $4::boolean then $5::boolean else u.is_active end,
    original_url = case when $6::boolean then $7::text else u.original_url end,
    expires_at = case when $8::boolean then $9::timestamptz at time zone 'UTC' else u.expires_at end,
    max_clicks = case when $10::boolean then $11::bigint else u.max_clicks end,
    forward_query = case when $12::boolean then $13::boolean else u.forward_query end,
    updated_at = now()
  from (select id, title, is_active, original_url, expires_at, max_clicks, forward_query from urls where id = $1::bigint for update) old
  where u.id = old.id
  returning u.*,
    array_remove(array[
      case when $2::boolean and u.title is distinct from old.title then 'title' end,
      case when $4::boolean and u.is_active is distinct from old.is_active then 'is_active' end,
      case when $6::boolean and u.original_url is distinct from old.original_url then 'original_url' end,
      case when $8::boolean and u.expires_at is distinct from old.expires_at then 'expires_at' end,
      case when $10::boolean and u.max_clicks is distinct from old.max_clicks then 'max_clicks' end,
      case when $12::boolean and u.forward_query is distinct from old.forward_query then 'forward_query' end
    ], null) as changed
), updated as (
  insert into events (url_id, user_id, event_type, details)
  select id, user_id, 'updated',
    jsonb_build_object('short_code', short_code, 'original_url', original_url, 'changed', to_jsonb(changed)) from link
)
select * from link`;

/** $1 id. Events and rollups go by cascade; the code is retired in the same statement. */
export const DELETE_URL_SQL = `
with gone as (
  delete from urls where id = $1::bigint returning *
), retired as (
  insert into retired_codes (code) select short_code from gone on conflict do nothing
)
select * from gone`;

/** $1 id. */
export const FIND_URL_SQL = `select * from urls where id = $1::bigint`;

/**
 * Many creates in one statement: $1 codes (distinct), $2 user ids, $3 original urls, $4 titles,
 * $5 expires_at (ISO instants), $6 max_clicks, $7 forward_query, each an array literal
 * (db/prepared.ts arrayLiteral) of one element per request (null for no expiry, no cap, false).
 * The owners are locked first (FOR KEY SHARE, as the foreign
 * key would), so a missing or concurrently deleted user only leaves its own requests out instead
 * of failing the statement. One row per request, in order: `owner_found`, and the new link's
 * columns when it was written (null when its code was live or retired: draw again).
 */
export const INSERT_URLS_SQL = `
with input as (
  select * from unnest($1::text::varchar[], $2::text::bigint[], $3::text::text[], $4::text::text[],
      $5::text::timestamptz[], $6::text::bigint[], $7::text::boolean[])
    with ordinality as i(code, owner, destination, label, expires, cap, forward, n)
), owners as materialized (
  select id from users where id in (select owner from input) order by id for key share
), candidate as (
  select i.* from input i
  where i.owner in (select id from owners) and not exists (select 1 from retired_codes r where r.code = i.code)
), link as (
  insert into urls (user_id, short_code, original_url, title, expires_at, max_clicks, forward_query)
  select owner, code, destination, label, expires at time zone 'UTC', cap, coalesce(forward, false) from candidate order by n
  on conflict (short_code) do nothing
  returning *
), created as (
  insert into events (url_id, user_id, event_type, details)
  select id, user_id, 'created', jsonb_build_object('short_code', short_code, 'original_url', original_url) from link order by id
)
select i.n, i.owner in (select id from owners) as owner_found, l.*
from input i left join link l on l.short_code = i.code
order by i.n`;
