-- Filled in by the invalidation work (NOTIFY on every change to what a code resolves to).
select 1;
