# The worker in every state of a cluster's life:
#  - preloaded before CREATE EXTENSION, and after DROP EXTENSION: asleep
#    (its CPU measured), one log line saying why, and a call made right
#    after CREATE EXTENSION works;
#  - gwresize.database_name naming a database that does not exist yet: a
#    few log lines, not one a second; served once it is created;
#  - a hot standby refuses every call that would send or queue at once
#    (25006), while dry runs, gw_wait and the views work; nothing it was
#    asked is sent after a promotion;
#  - a copy restored into another cluster sends and polls nothing, says so
#    once, refuses new calls, and acts on its open rows after gw_adopt().
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use GwTest;

my $mock = start_mock();
my $ep = "https://127.0.0.1:$mock->{https}";

sub worker_pid
{
	my ($node) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'")
	  or return 0;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

# CPU time (ms) a process used during $secs seconds
sub cpu_ms
{
	my ($pid, $secs) = @_;
	my $ticks = sub {
		my @f = split / /, PostgreSQL::Test::Utils::slurp_file("/proc/$pid/stat");
		return $f[13] + $f[14];
	};
	my $a = $ticks->();
	usleep($secs * 1_000_000);
	return ($ticks->() - $a) * 10;    # USER_HZ is 100
}

sub count_log
{
	my ($node, $re) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
	my @m = ($log =~ /$re/g);
	return scalar @m;
}

sub servers
{
	my ($node, $db) = @_;
	$node->safe_psql(
		$db // 'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', poll_interval_ms '300',
           read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
});
}

# ---- preloaded, extension absent; then created, dropped, created again
my $node = new_gw_node('primary', $mock, "log_min_messages = info\n", allows_streaming => 1);
my $waits = qr/is not installed in database "postgres"; the worker waits for CREATE EXTENSION/;
# the worker has seen the extension (new_gw_node creates it) before it goes
ok($node->wait_for_log(qr/gwresize: serving database "postgres"/), 'the worker serves the database');
my $said = count_log($node, $waits);
$node->safe_psql('postgres', 'DROP EXTENSION gwresize');
my $pid = worker_pid($node);
usleep(500_000);
my $idle = cpu_ms($pid, 3);
ok($idle <= 30, "without the extension the worker sleeps: ${idle} ms of CPU in 3 s");
is(count_log($node, $waits) - $said, 1, 'it says once why it waits');
$node->safe_psql('postgres', 'CREATE EXTENSION gwresize');
servers($node);
is($node->safe_psql('postgres', "SELECT status FROM gw_modify_spec('life-1', 'api.s1.medium', server => 'ali')"),
	'accepted', 'a call right after CREATE EXTENSION works, without a restart');
$node->safe_psql('postgres', 'DROP EXTENSION gwresize CASCADE');
usleep(300_000);
$idle = cpu_ms($pid, 3);
ok($idle <= 30, "after DROP EXTENSION it sleeps again: ${idle} ms of CPU in 3 s");
$node->safe_psql('postgres', 'CREATE EXTENSION gwresize');
servers($node);
my $qid = $node->safe_psql('postgres', "SELECT gw_modify_spec_async('life-2', 'api.s1.medium', server => 'ali')");
ok($node->poll_query_until('postgres', "SELECT status = 'accepted' FROM gw_audit WHERE id = $qid"),
	'a queued call right after CREATE EXTENSION is sent');
is(worker_pid($node), $pid, 'the same worker process all along');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM gw_inflight"), 'nothing left to do');
$idle = cpu_ms($pid, 3);
ok($idle <= 30, "installed and idle, the worker sleeps: ${idle} ms of CPU in 3 s");

# ---- a database that does not exist yet
my $late = new_gw_node('late', $mock, "gwresize.database_name = 'later'\n");
sleep(6);
my $lines = count_log($late, qr/^(?!.*statement: ).*(gwresize|"later").*$/m);
ok($lines <= 4, "a missing database: $lines log lines in 6 s");
$late->safe_psql('postgres', 'CREATE DATABASE later');
ok($late->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker' AND datname = 'later'"),
	'once the database exists the worker serves it');
$late->safe_psql('later', 'CREATE EXTENSION gwresize');
servers($late, 'later');
is($late->safe_psql('later', "SELECT status FROM gw_modify_spec('late-1', 'api.s1.medium', server => 'ali')"),
	'accepted', 'and calls work there');
$late->stop;

# ---- a hot standby
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b1', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
my $sent_before = mock_count($mock, provider => 'aliyun', action => 'ModifyInstanceSpec');
for my $sql (
	"SELECT gw_modify_spec('sb-1', 'api.s1.medium', server => 'ali')",
	"SELECT gw_resize('sb2', 'PROFESSIONAL')",
	"SELECT gw_modify_spec_async('sb-3', 'api.s1.medium', server => 'ali')",
	"SELECT gw_cancel($qid)",
	"SELECT gw_adopt()")
{
	my $t0 = time;
	my ($rc, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	my $ms = (time - $t0) * 1000;
	like($err, qr/25006: cannot .* on a hot standby/, "standby refuses at once: $sql");
	ok($ms < 2000, sprintf('  in %.0f ms', $ms));
	like($err, qr/HINT:  Run it on the primary\./, '  with a hint to run it on the primary') if $sql =~ /gw_modify_spec\(/;
}
like($standby->safe_psql('postgres',
		"SELECT request->>'url' FROM gw_modify_spec('sb-4', 'api.s1.medium', server => 'ali', dry_run => true)"),
	qr{^https://127\.0\.0\.1:\d+/\?}, 'a dry run works on the standby');
like($standby->safe_psql('postgres', "SELECT status FROM gw_wait($qid, '1 second')"), qr/^(accepted|succeeded)$/,
	'gw_wait on an existing row works on the standby');
ok($standby->safe_psql('postgres', 'SELECT count(*) FROM gw_history') >= 1, 'the views work there');
$standby->promote;
ok($standby->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'"),
	'after promotion the worker runs');
is($standby->safe_psql('postgres', "SELECT status FROM gw_modify_spec('sb-5', 'api.s1.medium', server => 'ali')"),
	'accepted', 'and calls work on the new primary');
usleep(500_000);
is(mock_count($mock, provider => 'aliyun', action => 'ModifyInstanceSpec') - $sent_before, 1,
	'nothing the standby was asked was sent after the promotion');
$standby->stop;

# ---- a copy restored into another cluster
mock_call($mock, 'POST', 'instances',
	{ provider => 'aliyun', instance_id => $_, resize_delay_ms => 600000 }) for qw(copy-1 copy-2);
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'copy-3', kind => 'hang', ms => 30000 } ] });
$node->safe_psql('postgres',
	"SELECT gw_modify_spec('copy-1', 'api.s1.medium', server => 'ali'), gw_modify_spec('copy-2', 'api.s1.medium', server => 'ali')");
$node->safe_psql('postgres', "SELECT gw_modify_spec_async('copy-3', 'api.s1.medium', server => 'ali')");
ok($node->poll_query_until('postgres', "SELECT status = 'sending' FROM gw_audit WHERE instance_id = 'copy-3'"),
	'the original has rows tracked and in flight');
my $dump = PostgreSQL::Test::Utils::tempdir() . '/copy.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump of the original');
my $open = $node->safe_psql('postgres', 'SELECT count(*) FROM gw_inflight');
$node->stop;
mock_call($mock, 'DELETE', 'faults');

my $copy = new_gw_node('copy', $mock);
$copy->safe_psql('postgres', 'DROP EXTENSION gwresize');
my $since = time;
$copy->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $copy->connstr('postgres'), '-f', $dump ],
	'the dump restores into another cluster');
my ($rc, $out, $err) = $copy->psql('postgres',
	"SELECT gw_modify_spec('copy-4', 'api.s1.medium', server => 'ali')");
like($err, qr/gwresize is not active in this copy of the database/, 'a new call is refused in the copy');
like($err, qr/SELECT gw_adopt\(\)/, 'and the hint names gw_adopt()');
ok($copy->poll_query_until('postgres', 'SELECT true') && wait_log($copy, qr/is a copy made by another cluster: its $open open call\(s\) are left alone/),
	"the copy's worker warns once, with the $open open rows");
sleep(2);
is(requests_since($since), 0, 'the copy sent and polled nothing');
is($copy->safe_psql('postgres', "SELECT gw_cancel(id) FROM gw_audit WHERE instance_id = 'copy-2'"), 't',
	'the owner may cancel an open row of the copy');
is($copy->safe_psql('postgres', 'SELECT gw_adopt()'), $open - 1, 'gw_adopt() takes the other open rows over');
ok($copy->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'copy-3'"),
	'the interrupted call is resolved by the copy after adoption');
ok(requests_since($since) > 0, 'and the copy now talks to the provider');
is($copy->safe_psql('postgres', "SELECT status FROM gw_modify_spec('copy-4', 'api.s1.medium', server => 'ali')"),
	'accepted', 'new calls work in the adopted copy');

# requests that reached the mock since epoch time $t
sub requests_since
{
	my ($t) = @_;
	return scalar grep { $_->{t} >= $t } @{ mock_call($mock, 'GET', 'requests') };
}

sub wait_log
{
	my ($n, $re) = @_;
	for (1 .. 100)
	{
		return 1 if count_log($n, $re) == 1;
		usleep(100_000);
	}
	return 0;
}

done_testing();
