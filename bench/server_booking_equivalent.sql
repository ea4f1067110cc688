-- The booking transaction of POST /api/v1/appointments, as plain SQL for pgbench
-- (bench/server_booking.py runs it with -M prepared on the API run's database, with the
-- same clients and seconds): the same work with no HTTP, no Python and no ORM.
--
-- Variables (-D): org, clinic, type_id, user_id (the receptionist the API run signs in
-- as), rooms (the check-up's candidate rooms, '{id,id}'), lo and hi (the slots of
-- bench_slots to pick from: a few hundred contested ones, or a million free ones).
-- bench_slots (n, provider_id, room_id, patient_id, start_at, end_at) is written by the
-- bench.
\set s random(:lo, :hi)
BEGIN;
-- authentication: the user and their roles (the API reads both per request)
SELECT id, organization_id, active, locked_until FROM users WHERE id = :user_id;
SELECT roles.name, role_permissions.permission, user_roles.department_id
  FROM roles JOIN user_roles ON user_roles.role_id = roles.id
  LEFT JOIN role_permissions ON role_permissions.role_id = roles.id
 WHERE user_roles.user_id = :user_id AND roles.organization_id = :org;
-- the configuration version (the configuration itself is kept between requests)
SELECT version FROM config_versions WHERE organization_id = :org;
-- advisory locks as the server takes them, in one statement and one sorted order: the
-- UTC day of the slot for the provider and every candidate room, and the patient,
-- exclusive; the provider and the rooms as a whole shared
SELECT count(CASE WHEN l.shared THEN pg_advisory_xact_lock_shared(l.k)
                  ELSE pg_advisory_xact_lock(l.k) END)
  FROM (SELECT hashtextextended(r.name, 0) AS k, r.shared
          FROM bench_slots b,
               LATERAL (SELECT to_char(b.start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                               b.provider_id || CAST(:rooms AS text[]) AS resources) AS d,
               LATERAL (SELECT b.patient_id, false
                        UNION ALL SELECT res || '@' || d.day, false FROM unnest(d.resources) AS res
                        UNION ALL SELECT res, true FROM unnest(d.resources) AS res)
                 AS r(name, shared)
         WHERE b.n = :s
         ORDER BY 1) AS l;
-- the state: the clinic's active appointments around the slot's day
SELECT a.id, a.patient_id, a.appointment_type_id, a.provider_id, a.room_id, a.start_at,
       a.end_at, a.status
  FROM bench_slots b JOIN appointments a
    ON a.organization_id = :org AND a.clinic_id = :clinic AND a.active
   AND a.block_start >= b.start_at - interval '1 day 2 hours'
   AND a.block_start < b.end_at + interval '1 day' AND a.block_end > b.start_at - interval '1 day'
 WHERE b.n = :s;
-- dated records: blockouts (time off, holidays and outages are read alike)
SELECT o.id, o.resource_id, o.start_at, o.end_at
  FROM bench_slots b JOIN blockouts o
    ON o.organization_id = :org AND o.clinic_id = :clinic
   AND o.start_at < b.end_at + interval '1 day' AND o.end_at > b.start_at - interval '1 day'
 WHERE b.n = :s;
-- the overlap check: provider, room or patient busy at the slot
SELECT count(*) AS taken
  FROM bench_slots b
 WHERE b.n = :s AND (EXISTS (
         SELECT 1 FROM appointment_resources o
          WHERE o.resource_id IN (b.provider_id, b.room_id) AND o.active
            AND o.block_start < b.end_at AND o.block_end > b.start_at
            AND o.block_start >= b.start_at - interval '1 day')
       OR EXISTS (
         SELECT 1 FROM appointments a
          WHERE a.patient_id = b.patient_id AND a.active AND a.block_start < b.end_at
            AND a.block_end > b.start_at AND a.block_start >= b.start_at - interval '1 day')) \gset
\if :taken = 0
-- insert the appointment and its occupations (provider, room)
WITH slot AS (SELECT * FROM bench_slots WHERE n = :s),
     booked AS (
       INSERT INTO appointments (id, organization_id, clinic_id, patient_id,
                                 appointment_type_id, provider_id, room_id, equipment_ids,
                                 start_at, end_at, block_start, block_end, status, source,
                                 notes, patient_notes, deleted, active, overridden, version,
                                 reschedule_count, created_at, updated_at)
       SELECT gen_random_uuid()::text, :org, :clinic, patient_id, :type_id, provider_id,
              room_id, '[]', start_at, end_at, start_at, end_at, 'booked', 'staff', '', '',
              false, true, false, 1, 0, now(), now()
         FROM slot
       RETURNING id, provider_id, room_id, block_start, block_end),
     held AS (
       INSERT INTO appointment_resources (id, organization_id, appointment_id, resource_id,
                                          block_start, block_end, active, overridden,
                                          group_member)
       SELECT gen_random_uuid()::text, :org, booked.id, resource, block_start, block_end,
              true, false, false
         FROM booked, LATERAL (VALUES (booked.provider_id), (booked.room_id)) AS r(resource))
SELECT id AS booked_id, block_start AS booked_start FROM booked \gset
-- the version bump (held until commit), its poke, the change log row
UPDATE org_versions SET version = version + 1 WHERE organization_id = :org
RETURNING version \gset
SELECT pg_notify('clinicdesk_version', CAST(:org AS text) || ':' || CAST(:version AS text));
INSERT INTO change_log (organization_id, version, entity, entity_id, op, payload)
VALUES (:org, :version, 'appointment', :booked_id, 'upsert',
        json_build_object('id', CAST(:booked_id AS text),
                          'start', CAST(:booked_start AS timestamptz)));
\endif
-- the audit head and the chained audit row (a refusal is audited too)
SELECT seq, hash FROM audit_heads WHERE organization_id = :org FOR UPDATE \gset
INSERT INTO audit_log (organization_id, seq, at, actor_user_id, intent, target_type,
                       outcome, prev_hash, hash)
VALUES (:org, :seq + 1, now(), :user_id, 'appointment.book', 'appointment',
        CASE WHEN :taken = 0 THEN 'accepted' ELSE 'refused' END, :hash,
        encode(sha256(convert_to(CAST(:hash AS text) || CAST(:s AS text), 'UTF8')), 'hex'));
UPDATE audit_heads SET seq = :seq + 1,
       hash = encode(sha256(convert_to(CAST(:hash AS text) || CAST(:s AS text), 'UTF8')), 'hex')
 WHERE organization_id = :org;
COMMIT;
