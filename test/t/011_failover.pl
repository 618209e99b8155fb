# Failover: a primary and a streaming standby, both with gwresize preloaded;
# 300 queued calls (150 Alibaba with explicit Tokens, 150 Huawei); the
# primary's host fails in the middle of the drain (the postmaster and every
# process under it frozen, then SIGKILLed); the standby is promoted and its
# worker, which does not run during recovery, starts.
#
# With synchronous replication every 'sending' row the worker committed
# before a request left is on the standby, so the new primary turns them into
# 'unknown' and resolves them: every row ends final, no instance is resized
# twice, every Token the mock accepted has its row.
#
# The same run with asynchronous replication is measured, not asserted, and
# once more with the walsender frozen for the last seconds before the crash
# (a standby that lags): what the standby had not received when the primary
# died (lost rows, lost claims re-sent as new calls, outcomes recorded
# wrongly, WAL and commits not received) is printed, e.g.
#   # async: rows missing 0 of 300, lost rows 0 (aliyun 0, huawei 0), ...
# What must hold there too is asserted: the worker runs on the new primary,
# every row there ends final, and rows the standby had in 'sending' are
# reconciled without a second resize.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use GwTest;

my $N = 150;          # calls per provider
my $RPS = 50;         # requests_per_second of each server: a drain of ~3 s
my $LATENCY = 300;    # ms the mock holds each resize: calls are in flight

my $mock = start_mock();
my @summary;

sub worker_count
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

# poll_state(NODE, COND, EXTRA): polls gw_audit until COND (an aggregate) holds;
# returns the row counts by status then, and EXTRA (an expression) as
# "replication lag N bytes" when not NULL; undef after the timeout
sub poll_state
{
	my ($node, $cond, $extra) = @_;
	my $q = qq{
SELECT ($cond) || '|' || (SELECT string_agg(status || ' ' || n, ', ' ORDER BY status)
                          FROM (SELECT status, count(*) n FROM gw_audit GROUP BY 1) s)
       || coalesce(', replication lag ' || $extra || ' bytes', '') FROM gw_audit};
	my $t0 = time;
	while (time - $t0 < $PostgreSQL::Test::Utils::timeout_default)
	{
		my ($ok, $state) = split /\|/, $node->safe_psql('postgres', $q), 2;
		return $state if $ok eq 'true';
		usleep(50_000);
	}
	return undef;
}

sub lsn_bytes
{
	my ($lsn) = @_;
	my ($hi, $lo) = split m{/}, $lsn;
	return hex($hi) * 2**32 + hex($lo);
}

# WAL the dead primary had written past what the standby received: bytes,
# records and commits (pg_waldump over the primary's pg_wal)
sub wal_not_received
{
	my ($primary, $recv) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_waldump', '-p', $primary->data_dir . '/pg_wal', '-s', $recv ],
		'>', \$out, '2>', \$err);
	my $records = () = $out =~ /^rmgr:/mg;
	my $commits = () = $out =~ /^rmgr: Transaction .*\bCOMMIT\b/mg;
	my $bytes = 0;
	# pg_waldump stops where the WAL ends: "error in WAL record at 0/3A1B2A0:
	# invalid record length at 0/3A1B2C8: ...": the last position is the end
	if ($err =~ m{.*\bat ([0-9A-F]+/[0-9A-F]+)}s)
	{
		$bytes = lsn_bytes($1) - lsn_bytes($recv);
		$bytes = 0 if $bytes < 0;
	}
	return ($bytes, $records, $commits);
}

# run_case(LABEL, SYNC, LAG): LAG freezes the walsender once the drain is
# under way (a standby that stopped receiving), queues 20 more calls, and
# kills the host once some of them were accepted
sub run_case
{
	my ($label, $sync, $lag) = @_;
	my $t0 = time;
	mock_call($mock, 'POST', 'reset', {});

	# -- a primary with gwresize, and a streaming standby from its backup
	my $primary = new_gw_node("fo_${label}_primary", $mock,
		"shared_buffers = 16MB\nmax_connections = 20\n", allows_streaming => 1);
	# an interrupted attempt is resolved timeout_ms + 1 s after it left: room
	# for a slow (sanitized) machine whose mock takes a request in late
	gw_servers($primary, $mock, "read_before_resize 'false', timeout_ms '5000', requests_per_second '$RPS'");
	$primary->backup('b');
	my $sname = "fo_${label}_standby";
	my $standby = PostgreSQL::Test::Cluster->new($sname);
	$standby->init_from_backup($primary, 'b', has_streaming => 1);
	$standby->start;
	is( $standby->safe_psql('postgres', q{
SELECT current_setting('shared_preload_libraries') || ' ' || current_setting('gwresize.database_name')
       || ' ' || current_setting('gwresize.allow_http') || ' ' || current_setting('gwresize.ca_file')}),
		"gwresize postgres on $mock->{ca}",
		"$label: the standby has the primary's preload and gwresize settings (from the backup)");
	is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't',
		"$label: the standby is in recovery");

	# set after the backup, so the standby (the next primary) does not wait
	# for a standby of its own
	if ($sync)
	{
		$primary->append_conf('postgresql.conf',
			"synchronous_standby_names = '$sname'\nsynchronous_commit = on\n");
		$primary->reload;
	}
	ok( $primary->poll_query_until('postgres',
			"SELECT sync_state FROM pg_stat_replication WHERE application_name = '$sname' AND state = 'streaming'",
			$sync ? 'sync' : 'async'),
		"$label: the standby streams, " . ($sync ? 'synchronously' : 'asynchronously'));
	is(worker_count($standby), '0', "$label: no worker runs on the standby");
	my $walsender = $primary->safe_psql('postgres',
		"SELECT pid FROM pg_stat_replication WHERE application_name = '$sname'");

	# -- 300 queued calls, slow enough to be killed in the middle
	mock_call($mock, 'POST', 'faults', {
		faults => [
			{ provider => 'aliyun', action => 'ModifyInstanceSpec', kind => 'latency',
			  ms => $LATENCY, count => -1 },
			{ provider => 'huawei', action => 'resize', kind => 'latency',
			  ms => $LATENCY, count => -1 } ] });
	$primary->safe_psql('postgres', qq{
SELECT count(CASE WHEN i % 2 = 0
  THEN gw_modify_spec_async('fo-$label-a-' || i, 'api.s1.medium', token => 'fo-$label-' || i, server => 'ali')
  ELSE gw_resize_async('fo-$label-h-' || i, 'PROFESSIONAL', 'hw') END)
  FROM generate_series(1, 2 * $N) i});
	my $t_queued = time;
	ok($standby->poll_query_until('postgres', 'SELECT count(*) FROM gw_audit', 2 * $N),
		"$label: the queued rows reached the standby");
	# lag: freeze early, while rows are still queued (claims to lose)
	my $before = poll_state($primary, $lag
		? "count(*) FILTER (WHERE status = 'accepted') >= 5 AND count(*) FILTER (WHERE status = 'queued') >= 20"
		: "count(*) FILTER (WHERE status = 'accepted') >= 45 AND count(*) FILTER (WHERE status IN ('queued', 'sending')) >= 100",
		"(SELECT pg_current_wal_lsn() - flush_lsn FROM pg_stat_replication WHERE application_name = '$sname')");
	ok(defined $before, "$label: the drain is under way");
	my $lagging = '';
	if ($lag)
	{
		ok(kill('STOP', $walsender), "$label: the walsender is frozen: the standby receives nothing more");
		my $t_freeze = time;
		$primary->safe_psql('postgres', qq{
SELECT count(CASE WHEN i % 2 = 0
  THEN gw_modify_spec_async('fo-$label-late-a-' || i, 'api.s1.medium', token => 'fo-$label-late-' || i, server => 'ali')
  ELSE gw_resize_async('fo-$label-late-h-' || i, 'PROFESSIONAL', 'hw') END)
  FROM generate_series(1, 20) i});
		ok( $primary->poll_query_until('postgres',
				"SELECT count(*) >= 6 FROM gw_audit WHERE instance_id LIKE 'fo-$label-late-%' AND status = 'accepted'"),
			"$label: the primary goes on: calls queued after the freeze are accepted");
		$before = poll_state($primary, "count(*) >= 0", "NULL");
		$lagging = sprintf(', walsender frozen %.1f s before', time - $t_freeze);
	}

	# -- the primary's host fails
	my @killed = kill_host($primary);
	my $t_kill = time;
	note(sprintf("$label: killed %d processes %.1f s into the drain%s; primary had just before: %s",
			scalar @killed, $t_kill - $t_queued, $lagging, $before));

	# what the standby received is replayed; the mock finishes the calls it
	# held.  The stream may have stopped in the middle of a WAL record: then
	# the received position stays ahead, and replay ends where it can (no
	# progress for 3 s).
	my ($replayed, $last, $still) = (0, '', 0);
	for (1 .. 600)
	{
		my ($rcv, $rep) = split /\|/, $standby->safe_psql('postgres',
			'SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()');
		$still = $rep eq $last ? $still + 1 : 0;
		$last = $rep;
		if ($rcv eq $rep || $still >= 10)
		{
			$replayed = 1;
			last;
		}
		usleep(300_000);
	}
	ok($replayed, "$label: the standby replayed all it received (a partial record aside)");
	my $recv = $standby->safe_psql('postgres', 'SELECT pg_last_wal_receive_lsn()');
	my $count = mock_call($mock, 'GET', 'stats')->{count};
	for (1 .. 50)
	{
		usleep(($LATENCY + 200) * 1000);
		my $c = mock_call($mock, 'GET', 'stats')->{count};
		last if $c == $count;
		$count = $c;
	}
	my @pre = @{ mock_call($mock, 'GET', 'requests') };
	my $seq = @pre ? $pre[-1]{seq} : 0;

	# the standby's rows as they were when the primary died
	my %sb = map { split /\|/ } split /\n/,
	  $standby->safe_psql('postgres', 'SELECT instance_id, status FROM gw_audit');
	my %sb_n;
	$sb_n{$_}++ foreach values %sb;
	my ($wal_bytes, $wal_records, $wal_commits) = wal_not_received($primary, $recv);

	# -- promotion
	$standby->promote;
	my $t_promoted = time;
	ok($standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
		"$label: the standby is promoted");
	ok( $standby->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'"),
		"$label: the worker starts on the new primary");
	{
		local $PostgreSQL::Test::Utils::timeout_default = 120;
		ok( $standby->poll_query_until('postgres',
				"SELECT count(*) = 0 FROM gw_audit WHERE status IN ('queued', 'sending', 'unknown')"),
			"$label: every row on the new primary is final");
	}
	my $t_final = time;
	if (($sb_n{sending} // 0) > 0)
	{
		ok($standby->log_contains('call\(s\) interrupted by a restart marked unknown'),
			"$label: the new primary's worker marked the rows left in sending unknown");
	}

	# -- what the new primary recorded, against what the mock did
	my (%row, %row_token, %final_n);
	foreach (split /\n/, $standby->safe_psql('postgres',
			"SELECT instance_id, coalesce(client_token, ''), status, coalesce(error_code, '') FROM gw_audit"))
	{
		my ($inst, $tok, $st, $code) = split /\|/, $_, -1;
		$row{$inst} = { status => $st, code => $code };
		$row_token{$tok} = $inst if $tok ne '';
		$final_n{$st}++;
	}
	my %resizes = map { ($_->{instance_id} => $_->{resizes}) }
	  grep { $_->{instance_id} =~ /^fo-$label-/ } @{ mock_call($mock, 'GET', 'instances') };
	my @ali_ok = @{ mock_call($mock, 'GET',
			'requests?provider=aliyun&action=ModifyInstanceSpec&status=200') };
	my @hw_ok = @{ mock_call($mock, 'GET', 'requests?provider=huawei&action=resize&status=202') };
	my %tok_ok = map { ($_->{token} => 1) } @ali_ok;
	my %hw_resized = map { ($_->{instance_id} => 1) } @hw_ok;

	# accepted by the mock before the failover: instance -> 1
	my %pre_ok = map { ($_->{instance_id} => 1) }
	  grep { $_->{seq} <= $seq && ($_->{action} // '') =~ /^(ModifyInstanceSpec|resize)$/
		  && ($_->{status} // 0) =~ /^20[02]$/ } @pre;
	# resize requests after the failover, per instance
	my %post_sent;
	$post_sent{ $_->{instance_id} }++ foreach grep { $_->{seq} > $seq }
	  @{ mock_call($mock, 'GET', 'requests?provider=aliyun&action=ModifyInstanceSpec') },
	  @{ mock_call($mock, 'GET', 'requests?provider=huawei&action=resize') };

	my @lost_ali = grep { !exists $row_token{$_} } sort keys %tok_ok;
	my @lost_hw = grep { !exists $row{$_} } sort keys %hw_resized;
	my @double = grep { $resizes{$_} > 1 } sort keys %resizes;
	my @not_final = grep { $row{$_}{status} =~ /^(queued|sending|unknown)$/ } keys %row;
	my @not_ok = grep { $row{$_}{status} !~ /^(accepted|succeeded)$/ } sort keys %row;
	# the mock resized it, the row says it failed; or the reverse
	my @false_failed = grep { ($resizes{$_} // 0) >= 1 && $row{$_}{status} !~ /^(accepted|succeeded)$/ }
	  sort keys %row;
	my @phantom = grep { ($resizes{$_} // 0) == 0 && $row{$_}{status} =~ /^(accepted|succeeded)$/ }
	  sort keys %row;
	# accepted before the failover, but the standby's row was still queued
	# (its claim was lost): sent again as a new call
	my @lost_claims = grep { ($sb{$_} // '') eq 'queued' } sort keys %pre_ok;
	my @lost_claims_resent = grep { $post_sent{$_} } @lost_claims;
	# answered before the failover, but the standby's row was in sending:
	# resolved by reconciliation
	my @reconciled = grep { ($sb{$_} // '') eq 'sending' } sort keys %pre_ok;
	my @sb_sending = grep { $sb{$_} eq 'sending' } sort keys %sb;

	# must hold with any replication: rows the standby had in sending are
	# reconciled, not resized twice, and end well
	is(scalar(@not_final), 0, "$label: no row left queued, sending or unknown");
	is(scalar(grep { ($resizes{$_} // 0) > 1 } @sb_sending), 0,
		"$label: no instance whose row the standby had in sending was resized twice ("
		  . scalar(@sb_sending) . ' such rows)');
	is(join(' ', grep { $row{$_}{status} !~ /^(accepted|succeeded)$/ } @sb_sending), '',
		"$label: every row the standby had in sending ended accepted");

	if ($sync)
	{
		is(scalar(keys %row), 2 * $N, "$label: the new primary has the 300 rows");
		is(join(' ', sort grep { !exists $row{$_} } keys %resizes), '',
			"$label: every instance the mock knows has a row");
		is(join(' ', @double), '', "$label: no instance was resized twice (the mock's count)");
		is(join(' ', @lost_ali), '', "$label: every Token the mock accepted has its row ("
			  . scalar(keys %tok_ok) . ' Tokens)');
		is(join(' ', @lost_hw), '', "$label: every Huawei instance the mock resized has its row ("
			  . scalar(keys %hw_resized) . ' instances)');
		is(join(' ', @lost_claims), '',
			"$label: every call the mock accepted before the failover was past 'queued' on the standby");
		is(join(' ', map { "$_:$row{$_}{status}/$row{$_}{code}" } @not_ok), '',
			"$label: every row ended accepted or succeeded");
		is(scalar(grep { ($resizes{$_} // 0) == 1 } keys %row), 2 * $N,
			"$label: every instance was resized exactly once");
	}

	# every call the primary acknowledged as queued, and the rows of them
	# the new primary lacks (sent or not)
	my $queued_total = 2 * $N + ($lag ? 20 : 0);
	my $missing = $queued_total - scalar(keys %row);
	my $line = sprintf(
		"%s: rows missing %d of %d, lost rows %d (aliyun %d, huawei %d), lost claims %d (re-sent %d), "
		  . "reconciled %d, double resizes %d, false failed %d, phantom accepted %d; "
		  . "standby had %s; final %s; WAL not received %d bytes, %d records, %d commits; "
		  . "killed %.1f s into the drain, final %.1f s after promotion, case %.1f s",
		$label, $missing, $queued_total, @lost_ali + @lost_hw, scalar @lost_ali, scalar @lost_hw,
		scalar @lost_claims, scalar @lost_claims_resent, scalar @reconciled,
		scalar @double, scalar @false_failed, scalar @phantom,
		join(', ', map { "$_ $sb_n{$_}" } sort keys %sb_n),
		join(', ', map { "$_ $final_n{$_}" } sort keys %final_n),
		$wal_bytes, $wal_records, $wal_commits,
		$t_kill - $t_queued, $t_final - $t_promoted, time - $t0);
	diag($line);
	diag("$label: not accepted: " . join(' ', map { "$_:$row{$_}{status}/$row{$_}{code}" } @not_ok))
	  if @not_ok;
	diag("$label: resized twice: " . join(' ', map { "$_ ($resizes{$_})" } @double)) if @double;
	push @summary, $line;
	$standby->stop;
	return;
}

run_case('sync', 1, 0);
run_case('async', 0, 0);
run_case('lag', 0, 1);
diag($_) foreach @summary;
done_testing();
