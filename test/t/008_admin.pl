# Admin actions in the middle of a queue, and the worker's own limits:
#  - DROP USER MAPPING, DROP SERVER ... CASCADE, ALTER SERVER and REVOKE
#    USAGE with rows queued, in flight, waiting for a retry and tracked:
#    the worker survives (same pid) and each row ends with a clear code;
#  - a call interrupted again and again (its worker terminated while the
#    request is out) is re-sent a bounded number of times, then ends failed;
#  - a call waiting for a retry can be cancelled, and sends nothing more;
#  - gw_wait with an absurd timeout does not overflow.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('admin', $mock);
my $ep = "https://127.0.0.1:$mock->{https}";

sub worker_pid
{
	my $pid;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

# server NAME for aliyun on the mock, with a mapping for the current user
sub ali_server
{
	my ($name, $opts) = @_;
	$opts = $opts ? ", $opts" : '';
	$node->safe_psql(
		'postgres', qq{
CREATE SERVER $name FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', read_before_resize 'false'$opts);
CREATE USER MAPPING FOR CURRENT_USER SERVER $name
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
});
}

# the row of instance INST once it is final: "status|error_code|attempts"
sub final_row
{
	my ($inst, $secs) = @_;
	local $PostgreSQL::Test::Utils::timeout_default = $secs // 60;
	$node->poll_query_until('postgres',
		"SELECT status NOT IN ('queued', 'sending', 'unknown') FROM gw_audit WHERE instance_id = '$inst'"
	) or return 'not final';
	return $node->safe_psql('postgres',
		"SELECT status || '|' || coalesce(error_code, '') || '|' || attempts FROM gw_audit WHERE instance_id = '$inst'");
}

sub wait_for_mock
{
	my ($n, %f) = @_;
	for (1 .. 300)
	{
		return 1 if mock_count($mock, %f) >= $n;
		usleep(50_000);
	}
	return 0;
}

my $pid = worker_pid();

# -- the reported segfault: a mapping dropped under three queued rows
ali_server('lr');
$node->safe_psql(
	'postgres', q{
BEGIN;
SELECT gw_modify_spec_async('seg-' || g, 'api.s1.medium', server => 'lr') FROM generate_series(1, 3) g;
DROP USER MAPPING FOR CURRENT_USER SERVER lr;
COMMIT;
});
is(final_row("seg-$_"), 'failed|NotSent|0', "seg-$_: failed, not sent") for 1 .. 3;
like($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE instance_id = 'seg-1'"),
	qr/no user mapping for role "\w+" on server "lr"/, 'the message names the missing mapping');
is(mock_count($mock, provider => 'aliyun'), 0, 'nothing reached the provider');
is(worker_pid(), $pid, 'the worker survived');

# -- DROP SERVER ... CASCADE with rows queued
ali_server('gone');
$node->safe_psql(
	'postgres', q{
BEGIN;
SELECT gw_modify_spec_async('drop-' || g, 'api.s1.medium', server => 'gone') FROM generate_series(1, 2) g;
DROP SERVER gone CASCADE;
COMMIT;
});
is(final_row('drop-1'), 'failed|NotSent|0', 'a queued row whose server was dropped fails, not sent');
like($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE instance_id = 'drop-2'"),
	qr/server "gone" no longer exists/, 'the message names the dropped server');

# -- REVOKE USAGE from the role that queued
ali_server('shared');
$node->safe_psql(
	'postgres', q{
CREATE ROLE ops LOGIN;
GRANT USAGE ON FOREIGN SERVER shared TO ops;
CREATE USER MAPPING FOR ops SERVER shared
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
GRANT EXECUTE ON FUNCTION gw_modify_spec_async(text, text, text, boolean, boolean, text, name) TO ops;
BEGIN;
SET ROLE ops;
SELECT gw_modify_spec_async('revoke-1', 'api.s1.medium', server => 'shared');
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER shared FROM ops;
COMMIT;
});
is(final_row('revoke-1'), 'failed|PermissionDenied|0', 'USAGE revoked before the send: not sent');
like($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE instance_id = 'revoke-1'"),
	qr/permission denied for foreign server shared/, 'the message says which privilege is missing');
is(mock_count($mock, provider => 'aliyun'), 0, 'still nothing reached the provider');

# -- in flight: the answer of a call sent before its mapping was dropped is recorded
ali_server('fl', "max_retries '3'");
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'flight-1', kind => 'latency', ms => 1500 } ] });
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('flight-1', 'api.s1.medium', server => 'fl')");
ok(wait_for_mock(1, instance_id => 'flight-1') || 1, 'the call is in flight');
usleep(300_000);
$node->safe_psql('postgres', 'DROP USER MAPPING FOR CURRENT_USER SERVER fl');
like(final_row('flight-1'), qr/^(accepted|succeeded)\|\|1$/, 'a call already sent is recorded as answered');

# -- waiting for a retry: the mapping is dropped; the next attempt is not sent
$node->safe_psql('postgres', q{
CREATE USER MAPPING FOR CURRENT_USER SERVER fl
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret')});
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'retry-1', kind => 'throttle', retry_after => 2 } ] });
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('retry-1', 'api.s1.medium', server => 'fl')");
ok($node->poll_query_until('postgres',
		"SELECT next_attempt_at IS NOT NULL FROM gw_audit WHERE instance_id = 'retry-1'"),
	'the throttled call waits for its retry');
$node->safe_psql('postgres', 'DROP USER MAPPING FOR CURRENT_USER SERVER fl');
is(final_row('retry-1'), 'failed|NotSent|1', 'the retry is not sent once the mapping is gone');
is(mock_count($mock, instance_id => 'retry-1'), 1, 'one request reached the provider');

# -- waiting for a retry: ALTER SERVER applies to the next attempt
ali_server('alt', "max_retries '1'");
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'alter-1', kind => 'throttle', retry_after => 2 } ] });
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('alter-1', 'api.s1.medium', server => 'alt')");
ok($node->poll_query_until('postgres',
		"SELECT next_attempt_at IS NOT NULL FROM gw_audit WHERE instance_id = 'alter-1'"),
	'the throttled call waits for its retry');
$node->safe_psql('postgres',
	"ALTER SERVER alt OPTIONS (SET endpoint 'https://127.0.0.1:9', ADD connect_timeout_ms '500')");
is(final_row('alter-1'), 'failed|TransportError|2', 'the retry went to the altered endpoint');
like($node->safe_psql('postgres', "SELECT request->>'url' FROM gw_audit WHERE instance_id = 'alter-1'"),
	qr{^https://127\.0\.0\.1:9/}, 'the request shown is the one sent to the new endpoint');

# -- tracked rows whose mapping, then server, are dropped
ali_server('tr', "poll_interval_ms '300'");
mock_call($mock, 'POST', 'instances',
	{ provider => 'aliyun', instance_id => $_, resize_delay_ms => 600000 }) for qw(track-1 track-2);
$node->safe_psql('postgres',
	"SELECT gw_modify_spec('track-1', 'api.s1.medium', server => 'tr'),"
	  . " gw_modify_spec('track-2', 'api.s1.medium', server => 'tr')");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM gw_audit WHERE instance_id LIKE 'track-%' AND last_polled_at IS NOT NULL"),
	'both resizes are tracked');
$node->safe_psql('postgres', 'DROP SERVER tr CASCADE');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM gw_audit WHERE instance_id LIKE 'track-%' AND finished_at IS NULL"),
	'tracking of both ends');
is(final_row('track-1'), 'accepted|NotTracked|1',
	'tracking ends when the server is dropped: accepted, how it ended not known');
is(worker_pid(), $pid, 'the worker survived every admin action');

# -- a call whose worker is terminated each time its request is out: the
#    attempts are counted before the bytes leave, so it is re-sent a bounded
#    number of times and then ends failed
ali_server('loop', "timeout_ms '2500', max_retries '0'");
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'loop-1', kind => 'hang', ms => 8000, count => -1 } ] });
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('loop-1', 'api.s1.medium', server => 'loop', token => 'loop-token')");
my $kills = 0;
for my $round (1 .. 14)
{
	# attempt $round is counted and committed, then sent: once the provider
	# has it, end the worker.  Not while the row is 'unknown' (a restarted
	# worker has not claimed it yet) nor while a reconciling worker waits
	# (next_attempt_at set): that would interrupt no send at all
	$node->poll_query_until('postgres',
		"SELECT status NOT IN ('queued', 'sending', 'unknown')"
		  . " OR (status = 'sending' AND attempts >= $round AND next_attempt_at IS NULL)"
		  . " FROM gw_audit WHERE instance_id = 'loop-1'");
	last if $node->safe_psql('postgres',
		"SELECT status FROM gw_audit WHERE instance_id = 'loop-1'") ne 'sending';
	my $deadline = time() + 60;
	usleep(50_000) while mock_count($mock, token => 'loop-token') < $round && time() < $deadline;
	$node->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
	$kills++;
}
my $final = final_row('loop-1', 60);
like($final, qr/^failed\|Unresolved\|10$/, "after $kills interruptions the call ends failed, Unresolved");
like($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE instance_id = 'loop-1'"),
	qr/interrupted 10 times/, 'the message says why');
is(mock_count($mock, token => 'loop-token'), 10, 'the provider saw exactly 10 sends, all with the same Token');
$pid = worker_pid();

# -- a call waiting for a retry is cancelled: nothing more is sent, and a
#    synchronous caller gets SQLSTATE 57014
ali_server('cx', "max_retries '5'");
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'cancel-1', kind => 'throttle', retry_after => 3 } ] });
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/,
	"\\echo started\n\\set VERBOSITY verbose\nSELECT gw_modify_spec('cancel-1', 'api.s1.medium', server => 'cx');\n");
ok($node->poll_query_until('postgres',
		"SELECT next_attempt_at IS NOT NULL FROM gw_audit WHERE instance_id = 'cancel-1'"),
	'the synchronous call waits for its retry');
is($node->safe_psql('postgres',
		"SELECT gw_cancel(id) FROM gw_audit WHERE instance_id = 'cancel-1'"), 't', 'gw_cancel takes it');
my $out = $bg->query("SELECT 'after'");
like($bg->{stderr} // '', qr/57014.*was cancelled/s, 'the caller gets 57014: cancelled');
$bg->quit;
is($node->safe_psql('postgres',
		"SELECT status || '|' || attempts || '|' || (error_message LIKE 'cancelled while waiting%') FROM gw_audit WHERE instance_id = 'cancel-1'"),
	'cancelled|1|true', 'the row says it was cancelled while waiting, after one attempt');
usleep(1_000_000);
is(mock_count($mock, instance_id => 'cancel-1'), 1, 'no second attempt was sent');
is($node->safe_psql('postgres',
		"SELECT gw_cancel(id) FROM gw_audit WHERE instance_id = 'flight-1'"), 'f',
	'a finished call cannot be cancelled');

# -- gw_wait's timeout saturates instead of overflowing
is($node->safe_psql('postgres',
		"SELECT status FROM gw_wait((SELECT id FROM gw_audit WHERE instance_id = 'flight-1'), '178000000 years')"),
	$node->safe_psql('postgres', "SELECT status FROM gw_audit WHERE instance_id = 'flight-1'"),
	'gw_wait with a timeout of 178,000,000 years returns the finished row');
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'wait-1', kind => 'hang', ms => 20000 } ] });
$node->safe_psql('postgres', "SELECT gw_modify_spec_async('wait-1', 'api.s1.medium', server => 'cx')");
ok($node->poll_query_until('postgres',
		"SELECT status = 'sending' AND attempts = 1 FROM gw_audit WHERE instance_id = 'wait-1'"),
	'a call is out');
my ($rc, $o, $e) = $node->psql('postgres',
	"SET statement_timeout = '300ms'; SELECT gw_wait((SELECT id FROM gw_audit WHERE instance_id = 'wait-1'), '178000000 years')");
like($e, qr/canceling statement due to statement timeout/,
	'waiting on an open row with that timeout waits, until statement_timeout ends it');
is(worker_pid(), $pid, 'the worker is still the same');

done_testing();
