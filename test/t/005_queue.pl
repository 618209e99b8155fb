# Fleets of queued calls: the per-server rate limit, a crash in the middle
# of draining 1,000 rows (nothing lost, nothing doubled), and 5,000 queued
# rows drained with bounded open files and worker memory.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('queue', $mock, "restart_after_crash = on\n");
my $ep = "https://127.0.0.1:$mock->{https}";
$node->safe_psql(
	'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', timeout_ms '2000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER ali20 FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', requests_per_second '20', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali20
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001', endpoint '$ep',
           timeout_ms '2000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (access_key 'HWTESTAK0001', secret_key 'hwTestSecretKey0001');
});

sub drained
{
	my ($where, $secs) = @_;
	my $q = "SELECT count(*) = 0 FROM gw_audit WHERE ($where) AND status IN ('queued', 'sending', 'unknown')";
	local $PostgreSQL::Test::Utils::timeout_default = $secs // 180;
	return $node->poll_query_until('postgres', $q);
}

# -- the rate limit: with requests_per_second 20 no second holds more than 20
my $t0 = time;
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('rate-' || i, 'api.s1.medium', server => 'ali20') FROM generate_series(1, 100) i");
ok(drained("instance_id LIKE 'rate-%'"), '100 rate-limited calls drained');
my $elapsed = time - $t0;
my @t = sort { $a <=> $b } map { $_->{t} }
  grep { ($_->{instance_id} // '') =~ /^rate-/ }
  @{ mock_call($mock, 'GET', 'requests?provider=aliyun&action=ModifyInstanceSpec') };
my $max = 0;
for my $i (0 .. $#t)
{
	my $n = grep { $_ >= $t[$i] && $_ < $t[$i] + 1.0 } @t;
	$max = $n if $n > $max;
}
is(scalar @t, 100, 'the mock received the 100 calls');
ok($max <= 20, "at most 20 calls in any one-second window (max $max)");
ok($elapsed >= 4.5, sprintf('100 calls at 20/s took %.1f s', $elapsed));

# -- 1,000 rows queued and in flight, then kill -9 of the worker
mock_call($mock, 'POST', 'reset', {});
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'any', kind => 'latency', ms => 300, count => 60 } ] });
$node->safe_psql('postgres', q{
SELECT gw_modify_spec_async('crash-a-' || i, 'api.s1.medium', server => 'ali') FROM generate_series(1, 500) i;
SELECT gw_resize_async('crash-h-' || i, 'PROFESSIONAL', 'hw') FROM generate_series(1, 500) i;
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM gw_audit WHERE instance_id LIKE 'crash-%' AND status = 'sending'"),
	'calls are in flight');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
kill 'KILL', $pid;
usleep(500_000);
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server is back');
ok(drained("instance_id LIKE 'crash-%'"), 'after the crash every row reaches a final state');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM gw_audit WHERE instance_id LIKE 'crash-%'"), '1000', 'no row was lost');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM gw_audit WHERE instance_id LIKE 'crash-%' AND status NOT IN ('accepted', 'succeeded')"),
	'0', 'every call was accepted');
my %tokens = map { ($_->{token} // '') => 1 }
  @{ mock_call($mock, 'GET', 'requests?provider=aliyun&action=ModifyInstanceSpec') };
my @rows = split /\n/, $node->safe_psql('postgres',
	"SELECT client_token FROM gw_audit WHERE instance_id LIKE 'crash-a-%' AND status IN ('accepted', 'succeeded')");
is(scalar(grep { !$tokens{$_} } @rows), 0, 'every accepted Alibaba row\'s Token reached the mock');
my @twice = grep { $_->{instance_id} =~ /^crash-h-/ && $_->{resizes} > 1 }
  @{ mock_call($mock, 'GET', 'instances?provider=huawei') };
is(scalar @twice, 0, 'no Huawei instance was resized twice');
my @once = grep { $_->{instance_id} =~ /^crash-/ && $_->{resizes} == 1 }
  @{ mock_call($mock, 'GET', 'instances') };
is(scalar @once, 1000, 'every instance was resized exactly once');

# -- the same with an immediate shutdown
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'any', kind => 'latency', ms => 300, count => 60 } ] });
$node->safe_psql('postgres', q{
SELECT gw_modify_spec_async('stop-a-' || i, 'api.s1.medium', server => 'ali') FROM generate_series(1, 500) i;
SELECT gw_resize_async('stop-h-' || i, 'PROFESSIONAL', 'hw') FROM generate_series(1, 500) i;
});
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM gw_audit WHERE instance_id LIKE 'stop-%' AND status = 'sending'");
$node->stop('immediate');
$node->start;
ok(drained("instance_id LIKE 'stop-%'"), 'after an immediate shutdown every row reaches a final state');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM gw_audit WHERE instance_id LIKE 'stop-%' AND status IN ('accepted', 'succeeded')"),
	'1000', 'all 1000 accepted');
@twice = grep { $_->{instance_id} =~ /^stop-/ && $_->{resizes} != 1 }
  @{ mock_call($mock, 'GET', 'instances') };
is(scalar @twice, 0, 'each instance resized exactly once');

# -- 5,000 queued: open files and worker memory stay bounded
mock_call($mock, 'POST', 'reset', {});
$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
sub rss_kb
{
	my $s = PostgreSQL::Test::Utils::slurp_file("/proc/$pid/status");
	# private memory: VmRSS also counts the shared buffers the worker
	# touched, which grow with the table
	return $s =~ /RssAnon:\s+(\d+)/ ? $1 : -1;
}
sub nfd { opendir(my $d, "/proc/$pid/fd") or return -1; my $n = () = readdir($d); return $n - 2; }
my ($rss0, $fd0) = (rss_kb(), nfd());
$t0 = time;
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('bulk-' || i, 'api.s1.medium', server => 'ali') FROM generate_series(1, 5000) i");
my ($maxfd, $maxrss) = (0, 0);
while (time - $t0 < 120)
{
	my ($f, $r) = (nfd(), rss_kb());
	$maxfd = $f if $f > $maxfd;
	$maxrss = $r if $r > $maxrss;
	last if $node->safe_psql('postgres',
		"SELECT count(*) FROM gw_audit WHERE instance_id LIKE 'bulk-%' AND status IN ('queued', 'sending')") eq '0';
	usleep(100_000);
}
$elapsed = time - $t0;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM gw_audit WHERE instance_id LIKE 'bulk-%' AND status IN ('accepted', 'succeeded')"),
	'5000', sprintf('5000 queued calls drained in %.1f s (%.0f calls/s)', $elapsed, 5000 / $elapsed));
ok($maxfd - $fd0 <= 40, "worker open files stayed bounded: $fd0 before, at most $maxfd");
ok($maxrss - $rss0 < 16 * 1024, "worker private memory stayed bounded: $rss0 kB before, at most $maxrss kB");
diag(sprintf('drain: %.0f calls/s; worker RssAnon %d -> %d kB (max); fds %d -> %d (max)',
		5000 / $elapsed, $rss0, $maxrss, $fd0, $maxfd));
# -- a provider's Retry-After / x-acs-retry-after is honoured
mock_call($mock, 'POST', 'reset', {});
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 'ra-1', kind => 'status', status => 503,
		code => 'ServiceUnavailable', message => 'busy', retry_after => 1.5, count => 1 } ] });
my $id = $node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('ra-1', 'api.s1.medium', server => 'ali')");
is($node->safe_psql('postgres', "SELECT status || ' ' || attempts FROM gw_wait($id, '20 seconds')"),
	'accepted 2', 'accepted on the second attempt');
my @ra = map { $_->{t} } @{ mock_call($mock, 'GET', 'requests?instance_id=ra-1') };
ok(@ra == 2 && $ra[1] - $ra[0] >= 1.5,
	sprintf('the retry waited for x-acs-retry-after 1500 ms (%.2f s)', (@ra == 2 ? $ra[1] - $ra[0] : -1)));

$node->stop;
done_testing();
