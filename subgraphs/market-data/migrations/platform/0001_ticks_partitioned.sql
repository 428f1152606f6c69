-- Raw ticks, partitioned by UTC day (custom migration: drizzle-kit does not model partitioning).
--
-- One partition per day, named ticks_YYYYMMDD, covering [day 00:00Z, next day 00:00Z). There is no
-- default partition on purpose: a default partition holding rows of a day would make creating that
-- day's partition fail later. Instead the writer makes sure the partitions of every day in a batch
-- exist before inserting (market.ensure_tick_partition), and maintenance creates upcoming days ahead
-- and drops days past retention (market.drop_tick_partitions_before).
--
-- No primary key: the feed is append-only and uniqueness would cost a B-tree probe per tick. A BRIN
-- index on ts serves replay and time-range reads at almost no write cost (ticks arrive in time order).
CREATE TABLE "market"."ticks" (
	"symbol" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"seq" bigint NOT NULL,
	"price" numeric NOT NULL,
	"bid" numeric NOT NULL,
	"ask" numeric NOT NULL,
	"size" numeric NOT NULL
) PARTITION BY RANGE ("ts");
--> statement-breakpoint
CREATE INDEX "ticks_ts_brin" ON "market"."ticks" USING brin ("ts");
--> statement-breakpoint

-- Partition DDL needs the table's owner; the app role owns nothing, so these two run as their owner
-- (SECURITY DEFINER) with a pinned search_path. EXECUTE is revoked from PUBLIC below and granted to
-- the app role by lib/db-bootstrap.
CREATE FUNCTION "market"."ensure_tick_partition"(p_day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part text := 'ticks_' || to_char(p_day, 'YYYYMMDD');
BEGIN
	IF to_regclass(format('market.%I', part)) IS NOT NULL THEN
		RETURN false;
	END IF;
	-- Replicas (and the writer racing maintenance) may create the same day at once.
	PERFORM pg_advisory_xact_lock(hashtext('market.ticks.partitions'));
	IF to_regclass(format('market.%I', part)) IS NOT NULL THEN
		RETURN false;
	END IF;
	EXECUTE format(
		'CREATE TABLE market.%I PARTITION OF market.ticks FOR VALUES FROM (%L) TO (%L)',
		part,
		to_char(p_day, 'YYYY-MM-DD') || ' 00:00:00+00',
		to_char(p_day + 1, 'YYYY-MM-DD') || ' 00:00:00+00'
	);
	RETURN true;
END
$$;
--> statement-breakpoint
CREATE FUNCTION "market"."drop_tick_partitions_before"(p_day date) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part text;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('market.ticks.partitions'));
	FOR part IN
		SELECT c.relname
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent
		JOIN pg_namespace n ON n.oid = p.relnamespace
		WHERE n.nspname = 'market' AND p.relname = 'ticks' AND c.relname ~ '^ticks_[0-9]{8}$'
			AND to_date(substr(c.relname, 7), 'YYYYMMDD') < p_day
		ORDER BY c.relname
	LOOP
		EXECUTE format('DROP TABLE market.%I', part);
		RETURN NEXT part;
	END LOOP;
END
$$;
--> statement-breakpoint
REVOKE EXECUTE ON FUNCTION "market"."ensure_tick_partition"(date) FROM PUBLIC;
--> statement-breakpoint
REVOKE EXECUTE ON FUNCTION "market"."drop_tick_partitions_before"(date) FROM PUBLIC;
