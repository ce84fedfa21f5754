-- Ten years of newsletter deliveries for timing the issue admin on PostgreSQL:
-- 1M subscribers, 500 weekly issues of 20,000 deliveries and one of 850,000
-- (10.85M rows), 0.75% of them reported (bounce, complaint, unsubscribe).
-- Usage, on a throwaway database migrated by manage.py migrate:
--   psql -h 127.0.0.1 -U postgres <db> -f bench/deliveries_ten_years.sql
-- then time the pages with bench/issue_admin_pages.py.
\timing on
-- Indexes other than primary keys, dropped during the load and made again after.
CREATE TEMP TABLE saved_idx AS
  SELECT i.tablename, i.indexname, i.indexdef, c.conname FROM pg_indexes i
  LEFT JOIN pg_constraint c ON c.conname = i.indexname
  WHERE i.tablename IN ('newsletter_delivery','newsletter_subscriber','newsletter_deliveryevent') AND i.indexname NOT LIKE '%_pkey';
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT * FROM saved_idx LOOP
    IF r.conname IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tablename, r.conname);
    ELSE EXECUTE format('DROP INDEX %I', r.indexname); END IF;
  END LOOP; END $$;
INSERT INTO newsletter_subscriber (email, first_name, status, consent_text, consent_version, consent_source, consent_at, lawful_basis, confirmed_at, left_how, created_at, updated_at, frequency, advice_changes)
  SELECT 'reader' || g || '@example.com', '', 'confirmed', 'I agree', 'v1', 'footer', now() - interval '10 years' + g * interval '5 minutes', '', now() - interval '10 years' + g * interval '5 minutes', '', now(), now(), 'every_issue', true
  FROM generate_series(1, 1000000) g;
INSERT INTO newsletter_issue (subject, slug, preheader, body, status, scheduled_at, send_started_at, sent_at, recipient_count, created_at, updated_at, greeting, not_sent_reason, audience, kind)
  SELECT 'Issue ' || g, 'issue-' || g, '', '<p>Body of issue ' || g || '.</p>', 'sent', t, t, t + interval '2 hours', CASE WHEN g = 501 THEN 850000 ELSE 20000 END, t, t, 'Hi {first_name},', '', 'everyone', 'regular'
  FROM generate_series(1, 501) g, LATERAL (SELECT now() - interval '3650 days' + g * interval '7 days' AS t) x;
-- 500 issues x 20,000 deliveries, then one of 850,000; statuses as a send leaves them.
INSERT INTO newsletter_delivery (status, attempts, next_attempt_at, sent_at, smtp_code, error, updated_at, issue_id, subscriber_id, provider_message_id, changes_shown, topics_shown)
  SELECT CASE WHEN r < 970 THEN 'sent' WHEN r < 985 THEN 'failed' WHEN r < 995 THEN 'skipped' ELSE 'uncertain' END,
         1, i.sent_at, CASE WHEN r < 970 THEN i.sent_at END, CASE WHEN r < 970 THEN 250 WHEN r < 985 THEN 550 END,
         CASE WHEN r < 970 THEN '' WHEN r < 985 THEN '550 5.1.1 No such mailbox' WHEN r < 995 THEN 'No longer subscribed when the message was due.' ELSE 'The worker stopped while sending this message.' END,
         i.sent_at, i.id, s,
         CASE WHEN r < 970 THEN '<' || md5(i.id || ':' || s) || '@news.skincare.example>' ELSE '' END, true, NULL
  FROM newsletter_issue i,
       LATERAL generate_series(1, CASE WHEN i.id = (SELECT max(id) FROM newsletter_issue) THEN 850000 ELSE 20000 END) n,
       LATERAL (SELECT ((i.id * 1999 + n) % 1000000) + (SELECT min(id) FROM newsletter_subscriber) AS s, (i.id * 7 + n * 13) % 1000 AS r) x;
-- Reports: a bounce for 0.5% of sent deliveries, a complaint for 0.05%, an unsubscribe for 0.2%.
INSERT INTO newsletter_deliveryevent (delivery_id, subscriber_id, issue_id, kind, provider, event_id, at, detail)
  SELECT d.id, d.subscriber_id, d.issue_id, k.kind, 'postmark', k.kind || d.id, d.sent_at + interval '1 hour', ''
  FROM newsletter_delivery d, LATERAL (SELECT CASE WHEN d.id % 1000 < 5 THEN 'bounced' WHEN d.id % 1000 < 6 THEN 'complained' WHEN d.id % 1000 < 8 THEN 'unsubscribed' END AS kind) k
  WHERE d.status = 'sent' AND k.kind IS NOT NULL;
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT * FROM saved_idx LOOP
    EXECUTE r.indexdef;
    IF r.conname IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE USING INDEX %I', r.tablename, r.conname, r.conname);
    END IF;
  END LOOP; END $$;
VACUUM ANALYZE;
