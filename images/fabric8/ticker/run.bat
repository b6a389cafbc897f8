@echo off
rem Logs a numbered line every TICK_INTERVAL seconds, in the foreground, until stopped.
setlocal enabledelayedexpansion
cd /d "%~dp0"
call env.bat
set /a n=0
echo ticker started (every %TICK_INTERVAL%s)
:loop
set /a n+=1
echo %TICK_MESSAGE% !n! %JUBE_ARGS%
timeout /t %TICK_INTERVAL% /nobreak >nul
goto loop
