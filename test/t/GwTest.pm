# GwTest.pm - shared setup of the gwresize TAP tests: the mock cloud (a real
# HTTP/HTTPS server on 127.0.0.1) and clusters with gwresize preloaded.
package GwTest;

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_mock mock_call mock_count new_gw_node gw_servers kill_host metadata_urls
  drain_statuses);
# not exported by default: 002, 007, 008 and 010 have a worker_pid of their own
our @EXPORT_OK = qw(worker_pid);

my $root = $ENV{GW_ROOT} or die "GW_ROOT is not set";
my @mocks;

# start_mock: throwaway certificates and a mock cloud on free ports
sub start_mock
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	system("sh", "$root/test/mock/make-certs.sh", "$dir/certs") == 0
	  or die "make-certs.sh failed";
	my $h = IPC::Run::start(
		[
			'python3', "$root/test/mock/mockcloud.py",
			'--http-port', '0', '--https-port', '0',
			'--cert', "$dir/certs/server.pem", '--key', "$dir/certs/server.key",
			'--port-file', "$dir/ports.json"
		],
		'>', "$dir/mock.log", '2>&1');
	push @mocks, $h;
	for (1 .. 200)
	{
		last if -s "$dir/ports.json";
		usleep(50_000);
	}
	my $ports = decode_json(PostgreSQL::Test::Utils::slurp_file("$dir/ports.json"));
	return {
		http => $ports->{http},
		https => $ports->{https},
		ca => "$dir/certs/ca.pem",
		harness => $h
	};
}

# mock_call(MOCK, METHOD, PATH, BODY): the control API; returns decoded JSON.
# Never through a proxy the environment names (an explicit undef turns off
# HTTP::Tiny's reading of all_proxy, http_proxy and https_proxy)
sub mock_call
{
	my ($mock, $method, $path, $body) = @_;
	my $http = HTTP::Tiny->new(
		timeout => 10,
		proxy => undef,
		http_proxy => undef,
		https_proxy => undef);
	my $res = $http->request(
		$method,
		"http://127.0.0.1:$mock->{http}/_mock/$path",
		{
			headers => { 'Content-Type' => 'application/json' },
			defined $body ? (content => encode_json($body)) : ()
		});
	die "mock $method $path: $res->{status} $res->{content}"
	  unless $res->{success};
	return decode_json($res->{content} || 'null');
}

# mock_count(MOCK, FILTERS): requests the mock received matching filters
sub mock_count
{
	my ($mock, %f) = @_;
	my $q = join('&', map { "$_=$f{$_}" } sort keys %f);
	return scalar @{ mock_call($mock, 'GET', "requests?$q") };
}

# new_gw_node(NAME, MOCK, EXTRA_CONF, INIT_PARAMS...): a started cluster with
# gwresize preloaded and created in database postgres; INIT_PARAMS (optional)
# go to PostgreSQL::Test::Cluster::init, e.g. allows_streaming => 1
sub new_gw_node
{
	my ($name, $mock, $extra, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	# UTF-8 whatever the environment's locale: what providers send is checked
	# against the database encoding
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ], %init);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'gwresize'
gwresize.database_name = 'postgres'
gwresize.allow_http = on
gwresize.ca_file = '$mock->{ca}'
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION gwresize');
	return $node;
}

# metadata_urls(NODE, ALIYUN, HUAWEI): the metadata services' base URLs,
# set and in effect (a superuser setting, so ALTER SYSTEM and a reload)
sub metadata_urls
{
	my ($node, $ali, $hw) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET gwresize.aliyun_metadata_url = '$ali'; "
		  . "ALTER SYSTEM SET gwresize.huawei_metadata_url = '$hw'");
	$node->reload;
	usleep(300_000);
}

# gw_servers(NODE, MOCK, OPTIONS): servers "ali" and "hw" on the mock's
# HTTPS port with working credentials; OPTIONS are added to both
sub gw_servers
{
	my ($node, $mock, $opts) = @_;
	my $ep = "https://127.0.0.1:$mock->{https}";
	$opts = $opts ? ", $opts" : '';
	$node->safe_psql(
		'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep'$opts);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint '$ep', iam_endpoint '$ep'$opts);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
});
}

# worker_pid(NODE): the pid of the gwresize worker, once there is one; dies
# if none comes.  Looked up with pg_catalog first in search_path, whatever
# the database or its roles set
sub worker_pid
{
	my ($node) = @_;
	local $ENV{PGOPTIONS} = join(' ', grep { defined } $ENV{PGOPTIONS}, '-c search_path=pg_catalog');
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'")
	  or die "no gwresize worker on node " . $node->name;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

# drain_statuses(NODE, SERVER, N): waits until the N rows of SERVER are past
# queued and sending (dies if they never are); returns their distinct
# statuses, comma-separated, and in list context also the time (Time::HiRes)
# the drain was seen over, for a test that times it
sub drain_statuses
{
	my ($node, $server, $n) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) = $n FROM gw_audit WHERE server_name = '$server' AND status NOT IN ('queued', 'sending')")
	  or die "the drain of $server did not end";
	my $done = Time::HiRes::time();
	my $statuses = $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT status, ',') FROM gw_audit WHERE server_name = '$server'");
	return wantarray ? ($statuses, $done) : $statuses;
}

# the pids under PID (children, grandchildren, ...), from /proc
sub _descendants
{
	my ($root) = @_;
	my %kids;
	opendir(my $d, '/proc') or die "cannot read /proc: $!";
	foreach my $p (grep { /^\d+$/ } readdir($d))
	{
		open(my $f, '<', "/proc/$p/stat") or next;
		my $stat = <$f>;
		close $f;
		next unless defined $stat;
		# "pid (comm) state ppid ...": comm may hold spaces and parentheses
		my @f = split ' ', substr($stat, rindex($stat, ')') + 2);
		push @{ $kids{ $f[1] } }, $p;
	}
	closedir $d;
	my @out;
	my @todo = ($root);
	while (@todo)
	{
		my $p = shift @todo;
		foreach my $c (@{ $kids{$p} // [] })
		{
			push @out, $c;
			push @todo, $c;
		}
	}
	return @out;
}

# a process that is gone, or a zombie nobody has reaped yet
sub _dead
{
	my ($pid) = @_;
	open(my $f, '<', "/proc/$pid/stat") or return 1;
	my $stat = <$f> // '';
	close $f;
	my ($state) = substr($stat, rindex($stat, ')') + 2) =~ /^(\S)/;
	return !defined $state || $state eq 'Z' || $state eq 'X';
}

# kill_host(NODE): what a failed host does to a running cluster.  The
# postmaster is frozen first (SIGSTOP: it forks nothing more and notices no
# child's death), then every process under it; then all of them get SIGKILL.
# Nothing runs between the freeze and the kill, so no process cleans up,
# flushes or tells a peer.  Waits until they are gone, forgets the node's pid
# (PostgreSQL::Test::Cluster must not try to stop it), removes its System V
# shared memory header; returns the pids killed, the postmaster first.
sub kill_host
{
	my ($node) = @_;
	my $pm = $node->{_pid} or die "node " . $node->name . " is not running";
	kill 'STOP', $pm or die "cannot stop postmaster $pm: $!";
	my %seen = ($pm => 1);
	my @pids = ($pm);
	# again until nothing new: a fork under way when the postmaster froze
	for (1 .. 5)
	{
		my @new = grep { !$seen{$_} } _descendants($pm);
		last unless @new;
		kill 'STOP', @new;
		$seen{$_} = 1 foreach @new;
		push @pids, @new;
	}
	kill 'KILL', @pids;
	for (1 .. 500)
	{
		last unless grep { !_dead($_) } @pids;
		usleep(10_000);
	}
	die "processes of " . $node->name . " still alive after SIGKILL"
	  if grep { !_dead($_) } @pids;
	$node->{_pid} = undef;
	# the segment a dead postmaster leaves behind ("key shmid" on line 7)
	if (open(my $f, '<', $node->data_dir . '/postmaster.pid'))
	{
		my @l = <$f>;
		close $f;
		if (defined $l[6] && $l[6] =~ /^\s*\d+\s+(\d+)/)
		{
			system("ipcrm -m $1 >/dev/null 2>&1");
		}
	}
	return @pids;
}

END
{
	foreach my $h (@mocks)
	{
		$h->signal('TERM') if $h->pumpable;
		eval { $h->finish };
	}
}

1;
